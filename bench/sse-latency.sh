#!/usr/bin/env bash
# How long an SSE chunk takes from the upstream to the caller, directly and through
# Keyguard (target: at most 1 ms more than direct). The upstream and the reader share one
# JVM (one clock) on core 0; Keyguard runs on core 1. All traffic stays on 127.0.0.1.
#   bench/sse-latency.sh [STREAMS] [CHUNKS] [GAP_MS]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
. "$root/scripts/java-env.sh"
keyguard_select_jdk
streams="${1:-40}"; chunks="${2:-100}"; gap="${3:-5}"
work="$(mktemp -d /tmp/keyguard-sse.XXXXXX)"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT
[ -f "$root/bench/target/benchmarks.jar" ] || (cd "$root" && mvn -q -B -pl bench -am package -DskipTests)
[ -f "$root/runtime-proxy/target/keyguard.jar" ] || (cd "$root" && mvn -q -B -pl runtime-proxy -am package -DskipTests)
mkdir -p "$work/policies"
cat > "$work/policies/sse.kgp" <<KGP
provider origin { base_url "http://127.0.0.1:18401/v1" credential env("BENCH_KEY") }
model "sse-model" { provider origin upstream "m" price input 1 usd per 1m tokens, output 2 usd per 1m tokens max_class internal }
policy sse { models allow ["sse-model"] }
KGP
BENCH_KEY=sk-bench taskset -c 1 "$JAVA_HOME/bin/java" $(keyguard_jvm_flags "$root") -jar "$root/runtime-proxy/target/keyguard.jar" \
  serve --policies "$work/policies" --data "$work/data" --port 18403 --admin-port 18404 > "$work/keyguard.log" 2>&1 & pids+=($!)
for i in $(seq 1 60); do grep -qs "ready" "$work/keyguard.log" && break; sleep 0.5; done
key=$(KEYGUARD_ADMIN_URL=http://127.0.0.1:18404 "$JAVA_HOME/bin/java" -jar "$root/runtime-proxy/target/keyguard.jar" keys create --data "$work/data" --policy sse --name sse | tail -n 1)
echo "machine: $(nproc) cores; JDK $("$JAVA_HOME/bin/java" -version 2>&1 | head -n1); commit $(cd "$root" && git rev-parse --short HEAD); $streams streams x $chunks chunks, ${gap} ms apart"
# Streaming servers set TCP_NODELAY (uvicorn, vLLM, nginx do); the JDK HttpServer only with this property.
taskset -c 0 "$JAVA_HOME/bin/java" -Dsun.net.httpserver.nodelay=true -cp "$root/bench/target/benchmarks.jar" keyguard.bench.SseChunkLatency --upstream-port 18401 \
  --gateway http://127.0.0.1:18403 --key "$key" --model sse-model --streams "$streams" --chunks "$chunks" --gap-ms "$gap"
