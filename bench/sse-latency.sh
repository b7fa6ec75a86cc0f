#!/usr/bin/env bash
# How long an SSE chunk takes from the upstream to the caller, directly and through
# Keyguard (target: at most 1 ms more than direct). The upstream and the reader share one
# JVM (one clock) on core 0; Keyguard runs on core 1. All traffic stays on 127.0.0.1.
#   bench/sse-latency.sh [STREAMS] [CHUNKS] [GAP_MS]      (streams one after another)
#   SSE_CONCURRENT=1 bench/sse-latency.sh 500 50 20        (all streams at once)
# All at once: SSE_WARMUPS passes through Keyguard first (default 10), then SSE_PAIRS
# measured passes (default 5), direct and through Keyguard alternating. SSE_SLOW_US=1000
# prints, per measured pass, each 10 ms (UTC) that held chunks later than that, to set
# beside the gateway's log (KEYGUARD_BENCH_JAVA_OPTS=-Xlog:gc,safepoint,jit+compilation=debug:file=…:time).
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
streams="${1:-40}"; chunks="${2:-100}"; gap="${3:-5}"
mkdir -p "$work/policies/platform"
cat > "$work/policies/platform/models.kgp" <<KGP
provider origin { base_url "http://127.0.0.1:18401/v1" credential env("BENCH_API_KEY") }
model "sse-model" { provider origin upstream "m" price input 1 usd per 1m tokens, output 2 usd per 1m tokens max_class internal }
KGP
cat > "$work/policies/sse.kgp" <<KGP
policy sse {
  models allow ["sse-model"]
  limit concurrent 1_000 by key   // every stream is one key's: above the default 64 in flight
}
KGP
# The production profile (G1, a pre-touched heap), as bench/compare.sh and bench/tail.sh run it: on its one core the
# default profile's JVM picks the serial collector, whose young pauses (3-4 ms) would be the tail measured here.
export KEYGUARD_BENCH_JAVA_OPTS="$(keyguard_server_flags "$root" production | paste -sd' ') ${KEYGUARD_BENCH_JAVA_OPTS:-}"
start_keyguard 18403 18404
key=$(new_key 18404 sse)
machine_line
echo "$streams streams x $chunks chunks, ${gap} ms apart"
# Streaming servers set TCP_NODELAY (uvicorn, vLLM, nginx do); the JDK HttpServer only with this property.
taskset -c 0 "$JAVA_HOME/bin/java" -Dsun.net.httpserver.nodelay=true ${SSE_WARMUPS:+-Dsse.warmups=$SSE_WARMUPS} ${SSE_PAIRS:+-Dsse.pairs=$SSE_PAIRS} ${SSE_SLOW_US:+-Dsse.slow.us=$SSE_SLOW_US} -cp "$root/bench/target/benchmarks.jar" keyguard.bench.SseChunkLatency --upstream-port 18401 \
  --gateway http://127.0.0.1:18403 --key "$key" --model sse-model --streams "$streams" --chunks "$chunks" --gap-ms "$gap" ${SSE_CONCURRENT:+--concurrent}
