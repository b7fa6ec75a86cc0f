#!/usr/bin/env bash
# Where the tail comes from: Keyguard at a fixed rate (the comparison's set-up: nginx
# `return 200` upstream and the load generator on core 0, Keyguard alone on core 1, the
# policy with 3 limits and 2 budgets), after the same two-minute warm-up as
# bench/compare.sh. It prints the latency percentiles, the CPU per request, the CPU of each
# of the gateway's threads over the measured window (grouped by name), the seconds that
# held the slow requests, and the collector's and safepoints' log lines of those seconds.
#   bench/tail.sh [RATE] [SECONDS] [SLOW_US]      (defaults 1000 60 3000)
# TARGET=nginx measures nginx `proxy_pass` on core 1 instead, in the same set-up: what the
# machine and the harness add on their own.
# With PROFILE=cpu, async-profiler (from Maven Central) samples the CPU of every thread
# (1 ms) in 10 s windows from the start; the windows inside the measured one are put
# together in $work/profile.collapsed (folded stacks, one line each). PROFILE=alloc samples
# allocations (every 512 KB) instead.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
rate="${1:-1000}"; seconds="${2:-60}"; slow="${3:-3000}"; warm=30

profile="${PROFILE:-}"
if [ -n "$profile" ]; then
  case "$profile" in cpu) event="event=cpu,interval=1ms" ;; alloc) event="event=alloc,alloc=512k" ;; wall) event="wall=2ms" ;; *) echo "PROFILE=cpu, alloc or wall" >&2; exit 2 ;; esac
  agent="$(async_profiler)"
  # (jcmd cannot start it later: its JVMTI.agent_load parses the agent's key=value options as its own.)
  KEYGUARD_BENCH_JAVA_OPTS="-agentpath:$agent=start,$event,threads,collapsed,loop=10s,file=$work/window-%n.collapsed ${KEYGUARD_BENCH_JAVA_OPTS:-}"
fi
start_origin
write_bench_policy
export KEYGUARD_BENCH_JAVA_OPTS="$(keyguard_server_flags "$root" production | paste -sd' ') -Xlog:gc,safepoint:file=$work/gc.log:time,uptime,level,tags ${KEYGUARD_BENCH_JAVA_OPTS:-}"
if [ "${TARGET:-keyguard}" = nginx ]; then
  nginx_conf proxy 'server { listen 127.0.0.1:18103; location / { proxy_pass http://origin; proxy_http_version 1.1; proxy_set_header Connection ""; } }'
  taskset -c 1 nginx -c "$work/proxy.conf" -g 'daemon off; master_process off;' & pids+=($!); keyguard_pid=$!
  key=""; : > "$work/gc.log"; sleep 1
else
  start_keyguard 18103 18104
  key=$(new_key 18104 bench)
fi
machine_line
load() { taskset -c 0 "$JAVA_HOME/bin/java" -Xms256m -XX:+UseParallelGC ${LOAD_JAVA_OPTS:-} -cp "$root/bench/target/benchmarks.jar" keyguard.bench.OpenLoopLoad \
  --url http://127.0.0.1:18103/v1/chat/completions ${key:+--key "$key"} "$@"; }
if [ "${TARGET:-keyguard}" = keyguard ]; then
  echo "warming up: 60 s closed loop, 60 s over TLS"
  load --label warm-up --closed --connections 32 --warmup 0 --duration 60 > /dev/null
  load --label warm-up --closed --connections 32 --warmup 0 --duration 60 \
    --body '{"model":"bench-model-tls","max_tokens":16,"messages":[{"role":"user","content":"Say hello to the benchmark."}]}' > /dev/null
fi

# Every thread: "name|CPU ticks|ns waited on the run queue|time slices" (the name may hold
# spaces: it is in parentheses in stat; schedstat: on-CPU ns, run-queue wait ns, slices).
# One awk process reads them all (a process per thread would disturb what is measured).
threads() { awk 'FILENAME ~ /schedstat$/ { print name "|" ticks "|" $2 "|" $3; next }
  { name = substr($0, index($0, "(") + 1); name = substr(name, 1, length(name) - length(substr(name, index(name, ") ")))); \
    split(substr($0, index($0, ") ") + 2), f, " "); ticks = f[12] + f[13] }' $(for t in /proc/"$keyguard_pid"/task/*; do echo "$t/stat $t/schedstat"; done) 2>/dev/null; }
load --label "${TARGET:-keyguard}" --rate "$rate" --connections 64 --warmup "$warm" --duration "$seconds" --slow-us "$slow" --timeline "$work/timeline" > "$work/load.out" &
lp=$!
sleep "$warm"; sleep 0.2
threads > "$work/t0"; read -r u0 s0 < <(awk '{print $14, $15}' "/proc/$keyguard_pid/stat")
sleep 10; touch "$work/profile-from" # a window written after this began inside the measured time
sleep "$((seconds - 10))"
threads > "$work/t1"; read -r u1 s1 < <(awk '{print $14, $15}' "/proc/$keyguard_pid/stat")
[ -n "$profile" ] && find "$work" -name 'window-*.collapsed' -newer "$work/profile-from" ! -newer "$work/t1" -exec cat {} + > "$work/profile.collapsed"
wait "$lp"
grep -v '^RESULT' "$work/load.out"
tck=$(getconf CLK_TCK)
awk -v u=$((u1 - u0)) -v k=$((s1 - s0)) -v t="$tck" -v r="$rate" -v s="$seconds" 'BEGIN { d = u + k
  printf "proxy CPU: %.0f us per request (%.1f%% of the core): user %.0f us, kernel %.0f us\n", d / t * 1e6 / (r * s), 100 * d / t / s, u / t * 1e6 / (r * s), k / t * 1e6 / (r * s) }'
echo "by thread (names with digits folded): CPU us per request, run-queue wait us per time slice, time slices per request"
awk -F'|' -v t="$tck" -v r="$rate" -v s="$seconds" 'NR == FNR { a[$1] += $2; w[$1] += $3; q[$1] += $4; next } { b[$1] += $2; w2[$1] += $3; q2[$1] += $4 } END {
  for (n in b) { g = n; gsub(/[0-9]+/, "#", g); c[g] += b[n] - a[n]; wait[g] += w2[n] - w[n]; sl[g] += q2[n] - q[n] }
  for (g in c) if (c[g] > 0) printf "  %7.1f  %7.1f  %6.2f  %s\n", c[g] / t * 1e6 / (r * s), sl[g] ? wait[g] / 1e3 / sl[g] : 0, sl[g] / (r * s), g }' "$work/t0" "$work/t1" | sort -nr
echo "seconds with requests slower than ${slow} us (wall clock, count, slowest us):"
awk '{ n += $2 } END { printf "  %d requests in %d of the measured seconds; the worst:\n", n, NR }' "$work/timeline"
sort -k2 -nr "$work/timeline" | head -n 10 | sort -n | while read -r sec n mx; do
  echo "  $(date -u -d "@$sec" +%H:%M:%S) $n $mx"
  grep "$(date -u -d "@$sec" +%Y-%m-%dT%H:%M:%S)" "$work/gc.log" < /dev/null | grep -v 'safepoint.*Total: [0-9]\{1,5\} ns' | sed "s/^/      /" | head -n 6 || true
done
echo "work directory: $work"
