#!/usr/bin/env bash
# The files numbers of docs/BENCHMARKS.md: upload and download MiB/s, and the server's
# peak RSS (VmHWM) while a 1 GiB file goes up and comes back down.
# Usage: bench/files.sh [local|s3] [MiB]    (s3: moto on 127.0.0.1:5055, as .ci/run starts it)
# Needs: a release build (cargo build --release), curl, python3.
set -euo pipefail
storage=${1:-local}
mib=${2:-1024}
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${SERVER_BIN:-$root/target/release/blockchat}
port=18300
work=$(mktemp -d)
trap 'kill $server 2>/dev/null; rm -rf "$work"' EXIT
s3=()
if [ "$storage" = s3 ]; then
  bucket=bc-bench-$$
  curl -sf -X PUT "http://127.0.0.1:5055/$bucket" >/dev/null
  s3=(BLOCKCHAT_S3_BUCKET=$bucket BLOCKCHAT_S3_ENDPOINT=http://127.0.0.1:5055 BLOCKCHAT_S3_REGION=us-east-1
      BLOCKCHAT_S3_ACCESS_KEY_ID=test BLOCKCHAT_S3_SECRET_ACCESS_KEY=test)
fi
env "${s3[@]}" BLOCKCHAT_FILE_MAX_BYTES=$((4 * 1024 * 1024 * 1024)) BLOCKCHAT_FILE_QUOTA_PER_USER_BYTES=0 \
  "$bin" serve --bind 127.0.0.1:$port --data-dir "$work" --log warn >"$work/server.log" 2>&1 &
server=$!
for _ in $(seq 50); do curl -sf localhost:$port/readyz >/dev/null && break; sleep 0.2; done
api() { curl -sf "localhost:$port$1" -H 'content-type: application/json' "${@:2}"; }
field() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }
api /auth/register -d '{"username":"alice","email":"alice@example.com","password":"correct horse"}' >/dev/null
TOKEN=$(api /auth/login -d '{"username":"alice","password":"correct horse"}' | field "['access_token']")
head -c $((mib * 1024 * 1024)) /dev/urandom >"$work/upload.bin"
rss() { awk '/VmHWM/ {print $2}' /proc/$server/status; }
echo "server peak RSS before: $(rss) KiB"
up=$(curl -sf -o "$work/file.json" -w '%{time_total}' -H "authorization: Bearer $TOKEN" \
  -F "file=@$work/upload.bin;filename=upload.bin" "localhost:$port/files")
echo "upload $mib MiB ($storage): ${up}s = $(python3 -c "print(round($mib / $up, 1))") MiB/s; peak RSS $(rss) KiB"
id=$(field "['id']" <"$work/file.json")
rm "$work/upload.bin"
down=$(curl -sf -o /dev/null -w '%{time_total}' -H "authorization: Bearer $TOKEN" "localhost:$port/files/$id")
echo "download $mib MiB ($storage): ${down}s = $(python3 -c "print(round($mib / $down, 1))") MiB/s; peak RSS $(rss) KiB"
