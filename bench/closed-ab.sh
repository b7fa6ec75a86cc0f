#!/usr/bin/env bash
# A/B of JVM options on the closed loop: for each option set given (one argument each,
# added to the production profile's flags, e.g. "" "-XX:-UseG1GC -XX:+UseParallelGC"), a
# fresh gateway (core 1, the comparison's set-up) is warmed up for WARM seconds and then measured for
# SECONDS, closed loop, 32 connections; the sets run ROUNDS times, interleaved (A B A B),
# so that the machine's drift falls on each alike. Prints throughput and CPU per request.
#   ROUNDS=2 WARM=60 SECONDS_=30 bench/closed-ab.sh OPTS_A OPTS_B ...
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
rounds="${ROUNDS:-2}"; warm="${WARM:-60}"; secs="${SECONDS_:-30}"
start_origin
write_bench_policy
machine_line
base="$(keyguard_server_flags "$root" production | paste -sd' ')"
load() { taskset -c 0 "$JAVA_HOME/bin/java" -Xms256m -XX:+UseParallelGC -cp "$root/bench/target/benchmarks.jar" keyguard.bench.OpenLoopLoad \
  --url http://127.0.0.1:18103/v1/chat/completions --key "$key" "$@"; }
for r in $(seq 1 "$rounds"); do
  for opts in "$@"; do
    rm -rf "$work/data"; : > "$work/keyguard.log"
    KEYGUARD_BENCH_JAVA_OPTS="$base $opts" start_keyguard 18103 18104
    key=$(new_key 18104 bench)
    load --label warm-up --closed --connections 32 --warmup 0 --duration "$warm" > /dev/null
    c0=$(awk '{print $14+$15}' "/proc/$keyguard_pid/stat")
    result=$(load --label m --closed --connections 32 --warmup 0 --duration "$secs" | grep '^RESULT')
    c1=$(awk '{print $14+$15}' "/proc/$keyguard_pid/stat")
    kill "$keyguard_pid"; wait "$keyguard_pid" 2>/dev/null || true
    keep=(); for p in "${pids[@]}"; do [ "$p" = "$keyguard_pid" ] || keep+=("$p"); done; pids=("${keep[@]}") # the exit trap must not kill a reused pid
    # RESULT label target achieved/s errors p50 p90 p99 p99.9 max (Locale.ROOT)
    echo "$result" | awk -v d=$((c1 - c0)) -v t="$(getconf CLK_TCK)" -v s="$secs" -v o="${opts:-(production)}" -v r="$r" '
      $4 <= 0 { printf "round %s  %-40s completed nothing\n", r, o; next }
      { printf "round %s  %-40s %8.0f/s  CPU %5.1f us/request  p99 %s us  errors %s\n", r, o, $4, d / t * 1e6 / ($4 * s), $8, $5 }'
  done
done
