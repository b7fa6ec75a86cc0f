#!/usr/bin/env bash
# First overhead figure of the gateway (the benchmarks issue builds the full comparison):
# the same zero-latency OpenAI-shaped upstream (nginx `return 200`) called directly,
# through nginx `proxy_pass` (keep-alive upstream: the floor of a proxy hop), and
# through Keyguard (a key whose policy has 3 limits and 2 budgets), at a steady rate,
# open loop, latency from the scheduled send time. All traffic stays on 127.0.0.1.
#   bench/overhead.sh [RATE] [WARMUP_S] [DURATION_S]
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
rate="${1:-1000}"; warmup="${2:-10}"; duration="${3:-30}"
command -v nginx >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light; }

reply='{"id":"chatcmpl-bench","object":"chat.completion","created":1,"model":"bench-upstream","choices":[{"index":0,"message":{"role":"assistant","content":"Hello, benchmark."},"finish_reason":"stop"}],"usage":{"prompt_tokens":14,"completion_tokens":4,"total_tokens":18}}'
cat > "$work/nginx.conf" <<NGINX
worker_processes 1;
pid $work/nginx.pid;
error_log $work/nginx-error.log;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 10000000;
  upstream origin { server 127.0.0.1:18101; keepalive 128; keepalive_requests 10000000; }
  server { listen 127.0.0.1:18101; location / { default_type application/json; return 200 '$reply'; } }
  server { listen 127.0.0.1:18102; location / { proxy_pass http://origin; proxy_http_version 1.1; proxy_set_header Connection ""; } }
}
NGINX
# upstream and load generator on core 0, the proxy under test on core 1
taskset -c 0 nginx -c "$work/nginx.conf" -g 'daemon off; master_process off;' & pids+=($!)

mkdir -p "$work/policies/platform"
cat > "$work/policies/platform/models.kgp" <<KGP
provider origin { base_url "http://127.0.0.1:18101/v1" credential env("BENCH_API_KEY") }
model "bench-model" { provider origin upstream "bench-upstream" price input 1 usd per 1m tokens, output 2 usd per 1m tokens max_class internal }
KGP
cat > "$work/policies/bench.kgp" <<KGP
policy bench {
  tags { team: "bench" }
  models allow ["bench-model"]
  limit requests 1_000_000 per 1m by key
  limit tokens 1_000_000_000 per 1d by policy
  limit concurrent 1_000 by key
  budget 100_000 usd per day hard by policy
  budget 1_000_000 usd per month soft warn at 80% by policy
}
KGP
start_keyguard 18103 18104
key=$(new_key 18104 bench)

load() { taskset -c 0 "$JAVA_HOME/bin/java" -cp "$root/bench/target/benchmarks.jar" keyguard.bench.OpenLoopLoad --rate "$rate" --warmup "$warmup" --duration "$duration" --connections 64 "$@"; }
machine_line
load --label direct   --url http://127.0.0.1:18101/v1/chat/completions --hlog "$work/direct.hlog"
load --label nginx    --url http://127.0.0.1:18102/v1/chat/completions --hlog "$work/nginx.hlog"
cpu() { awk '{print $14+$15}' /proc/$keyguard_pid/stat; }
c0=$(cpu)
load --label keyguard --url http://127.0.0.1:18103/v1/chat/completions --key "$key" --hlog "$work/keyguard.hlog"
c1=$(cpu)
echo "keyguard process CPU: $(( (c1 - c0) * 10 )) ms for the run ($(( (c1 - c0) * 10000 / ((warmup + duration) * rate) )) us per request, warm-up included)"
echo "histogram logs: $work/*.hlog"
