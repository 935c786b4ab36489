#!/usr/bin/env bash
# The search numbers of docs/BENCHMARKS.md, on one backend: GET /search/messages
# latency (p50, p95) over N messages (default 1,000,000) in 100 chats of one user, for
# a rare word, a common one, a part of a word, a phrase and an exclusion; and what the
# index costs (seeding time and database size with and without it).
# Usage: bench/search.sh sqlite|postgres [N]
# Needs: a release build (cargo build --release), python3, psql for postgres.
set -euo pipefail
backend=${1:-sqlite}
n=${2:-1000000}
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${SERVER_BIN:-$root/target/release/blockchat}
port=18400
work=$(mktemp -d)
trap 'kill $server 2>/dev/null; rm -rf "$work"' EXIT
url="sqlite://$work/blockchat.db"
if [ "$backend" = postgres ]; then
  db=bc_search_$$
  psql -h 127.0.0.1 -U postgres -qc "CREATE DATABASE $db"
  url="postgres://postgres@127.0.0.1/$db"
  trap 'kill $server 2>/dev/null; sleep 1; psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE $db WITH (FORCE)"; rm -rf "$work"' EXIT
fi
BLOCKCHAT_AUTH_RATE_PER_IP_PER_MINUTE=100000000 BLOCKCHAT_DATABASE_URL=$url \
  "$bin" serve --bind 127.0.0.1:$port --data-dir "$work" --log warn >"$work/server.log" 2>&1 &
server=$!
for _ in $(seq 50); do curl -sf localhost:$port/readyz >/dev/null && break; sleep 0.2; done
api() { curl -sf "localhost:$port$1" -H 'content-type: application/json' "${@:2}"; }
field() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }
api /auth/register -d '{"username":"alice","email":"alice@example.com","password":"correct horse"}' >/dev/null
TOKEN=$(api /auth/login -d '{"username":"alice","password":"correct horse"}' | field "['access_token']")
ALICE=$(api /auth/me -H "authorization: Bearer $TOKEN" | field "['id']")
start=$(date +%s.%N)
python3 "$root/bench/seed.py" "$url" search "$ALICE" "$n"
echo "seeded $n messages with their search rows in $(python3 -c "print(round($(date +%s.%N) - $start, 1))") s"
if [ "$backend" = postgres ]; then
  psql -h 127.0.0.1 -U postgres -d "$db" -qc "VACUUM ANALYZE" >/dev/null
  psql -h 127.0.0.1 -U postgres -d "$db" -tAc "SELECT 'messages table+indexes: ' || pg_size_pretty(pg_total_relation_size('messages')) || ', message_search table+indexes: ' || pg_size_pretty(pg_total_relation_size('message_search'))"
else
  python3 - "$work/blockchat.db" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
try:
    rows = db.execute("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name").fetchall()
    size = dict(rows)
    search = sum(v for k, v in size.items() if k.startswith("message_search"))
    print(f"messages: {size.get('messages', 0) / 2**20:.0f} MiB, search tables and indexes: {search / 2**20:.0f} MiB")
except sqlite3.OperationalError:
    print("(dbstat not available)")
PY
fi
python3 - "$port" "$TOKEN" <<'PY'
import http.client, json, sys, time, urllib.parse
port, token = int(sys.argv[1]), sys.argv[2]
conn = http.client.HTTPConnection("127.0.0.1", port)
def get(q):
    conn.request("GET", "/search/messages?" + urllib.parse.urlencode({"q": q, "limit": 20}),
                 headers={"authorization": f"Bearer {token}"})
    r = conn.getresponse()
    body = r.read()
    assert r.status == 200, (r.status, body[:200])
    return json.loads(body)
queries = {
    "rare word (1 in 100k)": "haystackgem",
    "word (1 in 1k)": "needle",
    "common word": None,
    "part of a word": None,
    "phrase": None,
    "word -exclusion": None,
}
sample = get("needle")["results"][0]["message"]["content"].split()
common = max(set(sample), key=sample.count) if sample else "a"
queries["common word"] = sample[0]
queries["part of a word"] = sample[1][1:4] if len(sample[1]) >= 4 else sample[1]
queries["phrase"] = f'"{sample[0]} {sample[1]}"'
queries["word -exclusion"] = f"needle -{sample[0]}"
for name, q in queries.items():
    times = []
    for i in range(60):
        t = time.perf_counter()
        found = len(get(q)["results"])
        times.append((time.perf_counter() - t) * 1000)
    times = sorted(times[10:])
    print(f"{name:24} q={q!r:32} results={found:2}  p50 {times[len(times)//2]:6.1f} ms  p95 {times[int(len(times)*0.95)]:6.1f} ms")
PY
