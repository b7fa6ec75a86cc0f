#!/usr/bin/env bash
# System calls per request, Keyguard against nginx `proxy_pass`, in the comparison's set-up
# (the nginx `return 200` origin and the load generator on core 0, the proxy on core 1, the
# policy with 3 limits and 2 budgets): each proxy at RATE requests/s, `strace -c -f` attached
# for SECONDS in the middle of the run (Keyguard after a 40 s closed-loop warm-up). strace
# slows every call it sees, so read the counts, not the times.
#   bench/syscalls.sh [RATE] [SECONDS]      (defaults 1000 5)
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
rate="${1:-1000}"; seconds="${2:-5}"
command -v strace >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq strace; }
start_origin
write_bench_policy
machine_line
nginx_conf proxy 'server { listen 127.0.0.1:18102; location / { proxy_pass http://origin; proxy_http_version 1.1; proxy_set_header Connection ""; } }'
taskset -c 1 nginx -c "$work/proxy.conf" -g 'daemon off; master_process off;' & pids+=($!); nginx_pid=$!
KEYGUARD_BENCH_JAVA_OPTS="$(keyguard_server_flags "$root" production | paste -sd' ') ${KEYGUARD_BENCH_JAVA_OPTS:-}" start_keyguard 18103 18104
key=$(new_key 18104 bench)
load() { taskset -c 0 "$JAVA_HOME/bin/java" -Xms256m -XX:+UseParallelGC -cp "$root/bench/target/benchmarks.jar" keyguard.bench.OpenLoopLoad "$@"; }
load --url http://127.0.0.1:18103/v1/chat/completions --key "$key" --label warm-up --closed --connections 32 --warmup 0 --duration 40 > /dev/null
for target in nginx keyguard; do
  if [ "$target" = nginx ]; then port=18102; pid=$nginx_pid; k=(); else port=18103; pid=$keyguard_pid; k=(--key "$key"); fi
  load --url "http://127.0.0.1:$port/v1/chat/completions" "${k[@]}" --label "$target" --rate "$rate" --connections 64 \
    --warmup 5 --duration $((seconds + 10)) > "$work/load.out" &
  lp=$!
  sleep 7
  timeout "$seconds" strace -c -f -p "$pid" -o "$work/strace-$target" 2>/dev/null || true
  wait "$lp"
  # strace -c: % time, seconds, usecs/call, calls, errors, name (errors may be empty)
  echo "$target at $rate/s, system calls per request (errors: EAGAIN and the like):"
  awk -v n=$((rate * seconds)) 'NR > 2 && $1 ~ /^[0-9.]+$/ && $NF != "total" {
      calls = $4; errors = (NF == 6 ? $5 : 0); name = $NF
      if (calls / n >= 0.01) printf "  %-14s %5.2f  (errors %.2f)\n", name, calls / n, errors / n }' "$work/strace-$target" | sort -k2 -nr
done
