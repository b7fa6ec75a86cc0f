#!/usr/bin/env bash
# Start-up and idle memory of `./keyguard serve`: runs it N times (default 4) on a fresh data
# directory, timing the command to the first 200 of /healthz (polled every 50 ms), and reads
# the process's resident memory 10 s later, idle. The first run writes the class-data archive.
#   bench/startup.sh [N]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
runs="${1:-4}"
data="$(mktemp -d /tmp/keyguard-startup.XXXXXX)"
trap 'rm -rf "$data"' EXIT
cd "$root"
./keyguard --version >/dev/null # builds the jar first, outside the timing
for i in $(seq 1 "$runs"); do
  rm -rf "$data/d"
  start=$(date +%s%N)
  ./keyguard serve --data "$data/d" --port 18180 --admin-port 18181 >"$data/log" 2>&1 &
  pid=$!
  deadline=$((start + 60000000000))
  until curl -sf http://127.0.0.1:18180/healthz >/dev/null 2>&1; do
    [ "$(date +%s%N)" -lt "$deadline" ] || { echo "no /healthz within 60 s; see $data/log" >&2; kill "$pid"; exit 1; }
    sleep 0.05
  done
  end=$(date +%s%N)
  sleep 10
  rss=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
  printf 'run %d: /healthz after %d ms, idle RSS %d MB\n' "$i" $(((end - start) / 1000000)) $((rss / 1024))
  kill "$pid"
  wait "$pid" 2>/dev/null || true
done
