#!/usr/bin/env bash
# The side-by-side comparison (docs/benchmarks.md, "Keyguard against a plain proxy"), one
# command, one run:
#   1. a zero-latency OpenAI-shaped upstream (nginx `return 200` with a fixed
#      chat.completion), an nginx `proxy_pass` with upstream keep-alive (the floor of a
#      proxy hop) and Keyguard with a key whose policy has 3 limits and 2 budgets;
#   2. the load generator and the upstream on core 0, the proxy under test on core 1;
#   3. for direct / nginx / Keyguard: closed-loop maximum throughput, then 1,000 and
#      5,000 requests/s open loop (30 s warm-up, 60 s measured), latency from the
#      scheduled send time, CPU of the proxy process per request, its peak RSS;
#   4. 500 and 100 concurrent SSE streams of 50 chunks 20 ms apart, directly and through
#      Keyguard, five measured passes of each, alternating;
#   5. a 10-minute soak at 1,000 requests/s through Keyguard: RSS every 10 s, GC pauses.
# It prints one report and writes it into docs/benchmarks.md (between the compare
# markers) with the machine, JDK, flags and commit. Every process it starts is stopped by
# its PID; all traffic stays on 127.0.0.1.
#
#   bench/compare.sh            # the full run, about 30 minutes
#   bench/compare.sh --quick    # short phases to try the script (numbers not for the docs)
#   bench/compare.sh --no-soak  # everything but the 10-minute soak
#   bench/compare.sh --only-soak  # the soak alone (its report goes to bench/results only)
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

quick=0; soak=1; write=1; phases=1
for a in "$@"; do
  case "$a" in
    --quick) quick=1; write=0 ;;
    --only-soak) phases=0; write=0 ;;
    --no-soak) soak=0 ;;
    --no-write) write=0 ;;
    *) echo "unknown option $a" >&2; exit 2 ;;
  esac
done
warm=30; measure=60; cwarm=15; cmeasure=30; soak_s=600; sse_streams=500
if [ "$quick" = 1 ]; then warm=5; measure=10; cwarm=3; cmeasure=8; soak_s=40; sse_streams=100; fi


# The JVM flags Keyguard runs with here: the project's, plus the server flags the
# launcher uses for `serve` (the collector and heap), plus the GC log for the soak.
server_flags="$(keyguard_server_flags "$root" production | paste -sd' ')"
export KEYGUARD_BENCH_JAVA_OPTS="$server_flags -Xlog:gc,safepoint:file=$work/gc.log:uptime,level,tags ${KEYGUARD_BENCH_JAVA_OPTS:-}"

nginx_conf proxy "upstream origin_tls { server 127.0.0.1:18111; keepalive 128; keepalive_requests 10000000; }
  server { listen 127.0.0.1:18102; location / { proxy_pass http://origin; proxy_http_version 1.1; proxy_set_header Connection \"\"; } }
  server { listen 127.0.0.1:18105; location / { proxy_pass https://origin_tls; proxy_ssl_session_reuse on; proxy_http_version 1.1; proxy_set_header Connection \"\"; } }"
start_origin
taskset -c 1 nginx -c "$work/proxy.conf" -g 'daemon off; master_process off;' & pids+=($!); nginx_pid=$!

# The SSE upstream (and reader) of step 4 is on core 0 too, at 18401.
write_bench_policy 'provider sse { base_url "http://127.0.0.1:18401/v1" credential env("BENCH_API_KEY") }
model "sse-model" { provider sse upstream "m" price input 1 usd per 1m tokens, output 2 usd per 1m tokens max_class internal }' ', "sse-model"'
start_keyguard 18103 18104
key=$(new_key 18104 bench)
sleep 1

cpu_ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }
hwm_mb() { awk '/VmHWM/ {printf "%d", $2/1024}' "/proc/$1/status"; }
rss_mb() { awk '/VmRSS/ {printf "%d", $2/1024}' "/proc/$1/status"; }
ticks_per_s=$(getconf CLK_TCK)

# phase LABEL URL KEY PID MODE: MODE is `closed` or a rate; appends a row to $work/rows.
phase() {
  local label="$1" url="$2" k="$3" pid="$4" mode="$5" w m args out c0 c1
  if [ "$mode" = closed ]; then w=$cwarm; m=$cmeasure; args=(--closed --connections 32); else w=$warm; m=$measure; args=(--rate "$mode" --connections 64); fi
  out="$work/$label-$mode.out"
  taskset -c 0 "$JAVA_HOME/bin/java" -Xms256m -XX:+UseParallelGC -cp "$root/bench/target/benchmarks.jar" keyguard.bench.OpenLoopLoad \
    --label "$label" --url "$url" ${k:+--key "$k"} ${BODY:+--body "$BODY"} --warmup "$w" --duration "$m" "${args[@]}" --hlog "$work/$label-$mode.hlog" > "$out" &
  local load=$!
  sleep "$w"; sleep 0.2
  c0=$( [ -n "$pid" ] && cpu_ticks "$pid" || echo 0 )
  sleep "$m"
  c1=$( [ -n "$pid" ] && cpu_ticks "$pid" || echo 0 )
  wait "$load"
  grep -v '^RESULT' "$out"
  # RESULT label target achieved errors p50 p90 p99 p999 max
  read -r _ _ _ achieved errors p50 p90 p99 p999 max < <(grep '^RESULT' "$out")
  local cpu_us="-" rss="-"
  if [ -n "$pid" ]; then
    cpu_us=$(awk -v d=$((c1 - c0)) -v t="$ticks_per_s" -v a="$achieved" -v m="$m" 'BEGIN { printf "%.0f", d / t * 1e6 / (a * m) }')
    rss=$(hwm_mb "$pid")
  fi
  echo "$label $mode $achieved $errors $p50 $p90 $p99 $p999 $max $cpu_us $rss" >> "$work/rows"
}

machine_line | tee "$work/machine"
: > "$work/rows"; : > "$work/sse.out"
# Steady state, not start-up: the JIT compiles the gateway's paths for a minute or more under
# load (C2 still took a quarter of the CPU 30-60 s in), so Keyguard gets closed-loop load,
# plain and over TLS, before anything is measured. nginx needs none.
warm_kg=60; [ "$quick" = 1 ] && warm_kg=10
if [ "$phases" = 1 ]; then
  echo "warming Keyguard up: ${warm_kg} s closed loop, then ${warm_kg} s over TLS"
  for body in "" '{"model":"bench-model-tls","max_tokens":16,"messages":[{"role":"user","content":"Say hello to the benchmark."}]}'; do
    taskset -c 0 "$JAVA_HOME/bin/java" -Xms256m -XX:+UseParallelGC -cp "$root/bench/target/benchmarks.jar" keyguard.bench.OpenLoopLoad \
      --label warm-up --url http://127.0.0.1:18103/v1/chat/completions --key "$key" ${body:+--body "$body"} --closed --connections 32 \
      --warmup 0 --duration "$warm_kg" > /dev/null
  done
fi
[ "$phases" = 1 ] && for mode in closed 1000 5000; do
  phase direct   http://127.0.0.1:18101/v1/chat/completions ""     ""            "$mode"
  phase nginx    http://127.0.0.1:18102/v1/chat/completions ""     "$nginx_pid"  "$mode"
  phase keyguard http://127.0.0.1:18103/v1/chat/completions "$key" "$keyguard_pid" "$mode"
done
# The same through TLS to the upstream (nginx's `return 200` on 18111, self-signed; Keyguard
# verifies it against KEYGUARD_UPSTREAM_CA, nginx does not verify by default).
tls_body='{"model":"bench-model-tls","max_tokens":16,"messages":[{"role":"user","content":"Say hello to the benchmark."}]}'
[ "$phases" = 1 ] && for mode in closed 1000; do
  phase nginx-tls    http://127.0.0.1:18105/v1/chat/completions ""     "$nginx_pid"    "$mode"
  BODY="$tls_body" phase keyguard-tls http://127.0.0.1:18103/v1/chat/completions "$key" "$keyguard_pid" "$mode"
done

# Streaming at the target (500 streams) and at a load the single-core harness itself keeps
# on time (100 streams: the direct row shows what the harness adds on its own).
[ "$phases" = 1 ] && for n in "$sse_streams" 100; do
  echo "streaming: $n concurrent streams x 50 chunks, 20 ms apart"
  taskset -c 0 "$JAVA_HOME/bin/java" -Dsun.net.httpserver.nodelay=true -cp "$root/bench/target/benchmarks.jar" keyguard.bench.SseChunkLatency \
    --upstream-port 18401 --gateway http://127.0.0.1:18103 --key "$key" --model sse-model --streams "$n" --chunks 50 --gap-ms 20 \
    --concurrent | tee -a "$work/sse.out"
done

if [ "$soak" = 1 ]; then
  echo "soak: ${soak_s} s at 1000/s through Keyguard"
  gc_lines_before=$(wc -l < "$work/gc.log")
  # RSS, and its parts: anonymous (heap, native) and file-backed (the memory-mapped audit
  # queue, counters and keys, which grow with the data written and are page cache).
  ( while sleep 10; do echo "$(date +%s) $(rss_mb "$keyguard_pid") $(awk '/RssAnon/ {printf "%d", $2/1024}' "/proc/$keyguard_pid/status") $(awk '/RssFile/ {printf "%d", $2/1024}' "/proc/$keyguard_pid/status")"; done ) > "$work/rss.samples" & sampler=$!
  pids+=($sampler)
  taskset -c 0 "$JAVA_HOME/bin/java" -Xms256m -XX:+UseParallelGC -cp "$root/bench/target/benchmarks.jar" keyguard.bench.OpenLoopLoad \
    --label soak --url http://127.0.0.1:18103/v1/chat/completions --key "$key" --rate 1000 --warmup 0 --duration "$soak_s" \
    --connections 64 --hlog "$work/soak.hlog" | tee "$work/soak.out"
  kill "$sampler" 2>/dev/null || true
  tail -n +"$((gc_lines_before + 1))" "$work/gc.log" > "$work/gc-soak.log"
fi

# ------------------------------------------------------------------ the report
report="$work/report.md"
{
  echo "Run of \`bench/compare.sh\` on $(date -u +%Y-%m-%d), $(cat "$work/machine")."
  echo "Keyguard JVM flags: \`$(keyguard_jvm_flags "$root") $server_flags\`. nginx $(nginx -v 2>&1 | sed 's/.*nginx\///'), one worker each for the upstream (core 0) and the proxy (core 1)."
  echo "Keyguard was first warmed up with ${warm_kg} s of closed-loop load, then ${warm_kg} s over TLS (the JIT). Closed loop: 32 connections, ${cwarm} s warm-up, ${cmeasure} s measured. Fixed rates: 64 connections, ${warm} s warm-up, ${measure} s measured. Latency in µs."
  echo
  [ -s "$work/rows" ] && echo "| target | load | achieved/s | errors | p50 | p90 | p99 | p99.9 | max | Δp50 vs direct | Δp99 vs direct | proxy CPU µs/request | proxy peak RSS MB |"
  [ -s "$work/rows" ] && echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
  while read -r label mode achieved errors p50 p90 p99 p999 max cpu rss; do
    read -r _ _ _ _ d50 _ d99 _ _ _ _ < <(grep "^direct $mode " "$work/rows")
    dp50=$(awk -v a="$p50" -v b="$d50" 'BEGIN { printf "%+.0f", a - b }')
    dp99=$(awk -v a="$p99" -v b="$d99" 'BEGIN { printf "%+.0f", a - b }')
    [ "$label" = direct ] && { dp50="—"; dp99="—"; }
    echo "| $label | $mode | $achieved | $errors | $p50 | $p90 | $p99 | $p999 | $max | $dp50 | $dp99 | $cpu | $rss |"
  done < "$work/rows"
  echo
  row() { grep "^$1 $2 " "$work/rows"; }
  if [ -s "$work/rows" ]; then
  read -r _ _ kg_closed _ _ _ _ _ _ kg_cpu_closed _ < <(row keyguard closed)
  read -r _ _ ng_closed _ _ _ _ _ _ ng_cpu_closed _ < <(row nginx closed)
  read -r _ _ _ _ d50 _ d99 _ _ _ _ < <(row direct 1000)
  read -r _ _ _ _ n50 _ n99 _ _ ncpu _ < <(row nginx 1000)
  read -r _ _ _ _ k50 _ k99 _ _ kcpu _ < <(row keyguard 1000)
  awk -v kc="$kg_closed" -v nc="$ng_closed" -v kcc="$kg_cpu_closed" -v ncc="$ng_cpu_closed" -v d50="$d50" -v d99="$d99" -v n50="$n50" -v n99="$n99" -v k50="$k50" -v k99="$k99" \
      -v ncpu="$ncpu" -v kcpu="$kcpu" 'function verdict(ok) { return ok ? "met" : "**missed**" } BEGIN {
    printf "Targets of issue 16 (same run):\n\n"
    printf "* closed-loop throughput ≥ 50%% of nginx (stretch 70%%): %.0f / %.0f = %.0f%% — %s\n", kc, nc, 100 * kc / nc, (kc >= 0.7 * nc ? "met, stretch too" : verdict(kc >= 0.5 * nc))
    printf "* proxy CPU per request ≤ 2× nginx (stretch 1.5×), closed loop: %s vs %s µs (%.1f×) — %s\n", kcc, ncc, kcc / ncc, (kcc <= 1.5 * ncc ? "met, stretch too" : verdict(kcc <= 2 * ncc))
    printf "* the same at 1,000/s: %s vs %s µs (%.1f×) — %s\n", kcpu, ncpu, kcpu / ncpu, verdict(kcpu <= 2 * ncpu)
    printf "* at 1,000/s, added p50 ≤ 2× nginx added p50: %+.0f vs 2 × %+.0f — %s\n", k50 - d50, n50 - d50, verdict(k50 - d50 <= 2 * (n50 - d50))
    printf "* at 1,000/s, added p99 ≤ 3 ms: %+.0f µs — %s\n", k99 - d99, verdict(k99 - d99 <= 3000)
  }'
  read -r _ _ kt_closed _ _ _ _ _ _ kt_cpu _ < <(row keyguard-tls closed)
  read -r _ _ nt_closed _ _ _ _ _ _ nt_cpu _ < <(row nginx-tls closed)
  read -r _ _ _ _ t50 _ t99 _ _ _ _ < <(row keyguard-tls 1000)
  read -r _ _ _ _ u50 _ u99 _ _ _ _ < <(row nginx-tls 1000)
  awk -v kc="$kt_closed" -v nc="$nt_closed" -v kcpu="$kt_cpu" -v ncpu="$nt_cpu" -v d50="$d50" -v d99="$d99" -v k50="$t50" -v k99="$t99" -v n50="$u50" -v n99="$u99" 'BEGIN {
    printf "* HTTPS upstream, closed loop: Keyguard %.0f/s, nginx %.0f/s (%.0f%%); CPU %s vs %s µs (%.1f×); at 1,000/s added p50 %+.0f vs nginx %+.0f, added p99 %+.0f vs nginx %+.0f µs\n", kc, nc, 100 * kc / nc, kcpu, ncpu, kcpu / ncpu, k50 - d50, n50 - d50, k99 - d99, n99 - d99
  }'
  fi
  if [ -s "$work/sse.out" ]; then
    echo
    echo "Streaming: concurrent streams × 50 chunks 20 ms apart (phased over the gap), delay of each chunk from the upstream's write to the reader, both single selector threads in one JVM on core 0 (µs). After warm-up passes (3 direct, 10 through Keyguard), five measured passes of each path, alternating; the verdict is on the five passes' chunks together:"
    echo
    echo '```'
    grep -v '^RESULT' "$work/sse.out"
    echo '```'
    awk '/^RESULT sse-direct/ { d[$3] = $10; dp99[$3] = $8 } /^RESULT sse-keyguard/ {
           printf "\n* %s streams: failed streams %s (no 503: %s); Keyguard chunk delay p99 %s µs, max %s µs; direct p99 %s µs, max %s µs — ", $3, $5, $5 == 0 ? "met" : "**missed**", $8, $10, dp99[$3], d[$3]
           if (dp99[$3] > 1000) printf "added p99 ≤ 1 ms: cannot be judged at this load, the harness itself delivers direct chunks late"
           else printf "added p99 ≤ 1 ms: %+.0f µs — %s", $8 - dp99[$3], ($8 - dp99[$3] <= 1000 ? "met" : "**missed**") } END { print "" }' "$work/sse.out"
  fi
  if [ "$soak" = 1 ] && [ -s "$work/soak.out" ]; then
    echo
    echo "Soak, ${soak_s} s at 1,000/s through Keyguard:"
    echo
    echo '```'
    grep -v '^RESULT' "$work/soak.out"
    echo '```'
    awk 'NR == 1 { first = $2; fa = $3; ff = $4 } { n++; last = $2; la = $3; lf = $4; if ($2 > max) max = $2; if (min == "" || $2 < min) min = $2 }
         END { printf "\n* RSS every 10 s: first %d MB, last %d MB, min %d, max %d (%d samples); anonymous %d → %d MB, file-backed %d → %d MB\n", first, last, min, max, n, fa, la, ff, lf }' "$work/rss.samples"
    awk -v third="$(( $(wc -l < "$work/rss.samples") / 3 ))" 'NR <= third { a += $3; na++ } NR > 2 * third { b += $3; nb++ }
         END { if (na && nb) printf "* anonymous RSS (heap and native; the file-backed part is the mapped audit queue, which grows with the events written) trend: mean of the first third %.0f MB, of the last third %.0f MB (%+.1f%%) — %s\n", a / na, b / nb, 100 * (b / nb - a / na) / (a / na), (b / nb - a / na) / (a / na) < 0.05 ? "stable" : "**growing**" }' "$work/rss.samples"
    # Every stop-the-world pause (GC and other VM operations) is a safepoint; its "Total" is the pause.
    grep -oE 'Total: [0-9]+ ns' "$work/gc-soak.log" | awk '{ printf "%.3f\n", $2 / 1e6 }' | sort -n > "$work/pauses" || true
    awk '{ n++; if ($1 > 10) over++; max = $1 } END { printf "* stop-the-world pauses during the soak (GC and other safepoints, from -Xlog:safepoint): %d, longest %.3f ms, over 10 ms: %d — %s\n", n, max, over + 0, over ? "**missed**" : "met" }' "$work/pauses"
    echo "* GC cycles during the soak: $(grep -c 'Collection\|Pause' "$work/gc-soak.log" || true) (\`-Xlog:gc\` lines)"
  fi
  echo
  echo "Reproduce: \`bench/compare.sh\` (the histograms are in the run's work directory as \`*.hlog\`)."
} > "$report"
echo
cat "$report"
if [ "$quick" = 0 ]; then
  mkdir -p "$root/bench/results"
  cp "$report" "$root/bench/results/compare-$(date -u +%Y%m%d-%H%M).md"
  cp "$work"/*.hlog "$root/bench/results/" 2>/dev/null || true
fi
if [ "$write" = 1 ]; then
  python3 - "$root/docs/benchmarks.md" "$report" <<'PY'
import sys
doc, rep = sys.argv[1], open(sys.argv[2]).read()
s = open(doc).read()
b, e = "<!-- compare:begin -->", "<!-- compare:end -->"
i, j = s.index(b) + len(b), s.index(e)
open(doc, "w").write(s[:i] + "\n" + rep + "\n" + s[j:])
PY
  echo "written into docs/benchmarks.md"
fi
