#!/usr/bin/env bash
# A CPU flame graph of Keyguard under load, for "where does the time go": the same setup as
# bench/compare.sh (nginx `return 200` upstream and the load generator on core 0, Keyguard
# on core 1, a key whose policy has 3 limits and 2 budgets), open-loop load at RATE, and
# async-profiler (from Maven Central) sampling every thread's CPU time every millisecond.
# The first WINDOW seconds (start-up and JIT warm-up) go to one file, the next WINDOW
# seconds, at steady load, to another: that second one is the flame graph to read.
#   bench/profile.sh [RATE] [WINDOW_S]      -> bench/results/flame-<date>.html
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
rate="${1:-1000}"; window="${2:-40}"

agent="$(async_profiler)"

start_origin
write_bench_policy
# itimer: CPU-time sampling that needs no perf_events (containers usually forbid those).
export KEYGUARD_BENCH_JAVA_OPTS="$(keyguard_server_flags "$root" production | paste -sd' ') -agentpath:$agent=start,event=itimer,interval=1ms,threads,loop=${window}s,file=$work/flame-%n.html"
start_keyguard 18103 18104
key=$(new_key 18104 bench)
machine_line
taskset -c 0 "$JAVA_HOME/bin/java" -cp "$root/bench/target/benchmarks.jar" keyguard.bench.OpenLoopLoad --label keyguard \
  --url http://127.0.0.1:18103/v1/chat/completions --key "$key" --rate "$rate" --warmup "$window" --duration "$((window + 5))" \
  --connections 64 | grep -v '^RESULT'
sleep 2
mkdir -p "$root/bench/results"
out="$root/bench/results/flame-$(date -u +%Y%m%d-%H%M).html"
if [ -f "$work/flame-1.html" ]; then
  cp "$work/flame-1.html" "$out"
  echo "steady-state flame graph (second ${window} s window at ${rate}/s): $out"
else
  echo "no second profile window was written; see $work" >&2
  exit 1
fi
