#!/usr/bin/env bash
# The conversations numbers of docs/BENCHMARKS.md, on one backend:
#   sends/s acknowledged (committed) with 1, 8 and 64 concurrent senders;
#   history page (50) latency at 10k and 1M messages; GET /chats for a user in 500 chats.
# Usage: bench/conversations.sh sqlite|postgres [sync]
#   sync: durable commits (SQLite synchronous=FULL is not yet a setting: see BENCHMARKS.md)
# Needs: a release build (cargo build --release), wrk, python3, and psql for postgres.
set -euo pipefail
backend=${1:-sqlite}
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${SERVER_BIN:-$root/target/release/blockchat}
port=18200
work=$(mktemp -d)
trap 'kill $server 2>/dev/null; rm -rf "$work"' EXIT
url="sqlite://$work/blockchat.db"
if [ "$backend" = postgres ]; then
  db=bc_bench_$$
  psql -h 127.0.0.1 -U postgres -qc "CREATE DATABASE $db"
  url="postgres://postgres@127.0.0.1/$db"
  trap 'kill $server 2>/dev/null; sleep 1; psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE $db WITH (FORCE)"; rm -rf "$work"' EXIT
fi
BLOCKCHAT_AUTH_RATE_PER_IP_PER_MINUTE=100000000 BLOCKCHAT_AUTH_RATE_PER_ACCOUNT_PER_MINUTE=100000000 \
  BLOCKCHAT_DATABASE_URL=$url "$bin" serve --bind 127.0.0.1:$port --data-dir "$work" --log warn >"$work/server.log" 2>&1 &
server=$!
for _ in $(seq 50); do curl -sf localhost:$port/readyz >/dev/null && break; sleep 0.2; done
api() { curl -sf "localhost:$port$1" -H 'content-type: application/json' "${@:2}"; }
field() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }
for u in alice bob; do
  api /auth/register -d "{\"username\":\"$u\",\"email\":\"$u@example.com\",\"password\":\"correct horse\"}" >/dev/null
done
login() { api /auth/login -d "{\"username\":\"$1\",\"password\":\"correct horse\"}"; }
TOKEN=$(login alice | field "['access_token']"); export TOKEN
ALICE=$(login alice | field "['user']['id']")
BOB=$(login bob | field "['user']['id']")
CHAT=$(api /chats -H "authorization: Bearer $TOKEN" -d "{\"type\":\"group\",\"name\":\"bench\",\"member_ids\":[\"$BOB\"]}" | field "['id']"); export CHAT
report() { grep -E "Requests/sec|    50%|    99%|Non-2xx|Socket errors" | tr -s ' ' | paste -sd' '; }

echo "== $backend: sends acknowledged (POST /chats/{id}/messages), 10 s each"
for c in 1 8 64; do
  t=$(( c < 2 ? 1 : 2 ))
  echo "senders=$c: $(wrk -t$t -c$c -d10s --latency -s "$root/bench/send.lua" "http://127.0.0.1:$port" | report)"
done
echo "   messages stored: $(api "/chats/$CHAT" -H "authorization: Bearer $TOKEN" | field "['last_seq']")"

for n in 10000 1000000; do
  HCHAT=$(python3 -c "import uuid; print(uuid.uuid7() if hasattr(uuid,'uuid7') else uuid.uuid4())")
  python3 "$root/bench/seed.py" "$url" messages "$HCHAT" "$ALICE" "$n" "$BOB"
  echo "history page of 50 at $n messages: $(CHAT=$HCHAT LAST=$n wrk -t2 -c8 -d10s --latency -s "$root/bench/history.lua" "http://127.0.0.1:$port" | report)"
done

python3 "$root/bench/seed.py" "$url" chats "$ALICE" 500 "$BOB"
echo "GET /chats?limit=50 for a user in 500+ chats: $(wrk -t2 -c8 -d10s --latency -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$port/chats?limit=50" | report)"
