# Sourced by the bench scripts: JDK 25, a work directory cleaned up on exit, the jars,
# and a Keyguard gateway started on core 1 with a key for it.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
. "$root/scripts/java-env.sh"
keyguard_select_jdk
work="$(mktemp -d /tmp/keyguard-bench.XXXXXX)"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT
[ -f "$root/bench/target/benchmarks.jar" ] || (cd "$root" && mvn -q -B -pl bench -am package -DskipTests)
[ -f "$root/runtime-proxy/target/keyguard.jar" ] || (cd "$root" && mvn -q -B -pl runtime-proxy -am package -DskipTests)

# start_keyguard PORT ADMIN_PORT [SERVE_ARGS...]: serves $work/policies, pinned to core 1
# (KG_CORES), over $work/data (KG_DATA), logging to $work/keyguard.log (KG_LOG); waits until ready.
start_keyguard() {
  local port="$1" admin="$2"; shift 2
  local data="${KG_DATA:-$work/data}" log="${KG_LOG:-$work/keyguard.log}"
  BENCH_API_KEY=sk-bench KEYGUARD_UPSTREAM_CA="$( [ -f "$work/origin.pem" ] && echo "$work/origin.pem" || true )" taskset -c "${KG_CORES:-1}" "$JAVA_HOME/bin/java" $(keyguard_jvm_flags "$root") ${KEYGUARD_BENCH_JAVA_OPTS:-} \
    -jar "$root/runtime-proxy/target/keyguard.jar" serve --policies "$work/policies" --data "$data" \
    --port "$port" --admin-port "$admin" "$@" > "$log" 2>&1 &
  pids+=($!)
  keyguard_pid=$!
  for _ in $(seq 1 60); do grep -qs "ready" "$log" && return 0; sleep 0.5; done
  echo "keyguard did not start; see $log" >&2
  return 1
}

# new_key ADMIN_PORT POLICY: prints a fresh key's secret.
new_key() {
  KEYGUARD_ADMIN_URL="http://127.0.0.1:$1" "$JAVA_HOME/bin/java" -jar "$root/runtime-proxy/target/keyguard.jar" \
    keys create --data "${KG_DATA:-$work/data}" --policy "$2" --name bench | tail -n 1
}

machine_line() {
  echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); JDK $("$JAVA_HOME/bin/java" -version 2>&1 | head -n1); commit $(cd "$root" && git rev-parse --short HEAD)"
}

# The zero-latency OpenAI-shaped upstream of the comparison: nginx `return 200` with a fixed
# chat.completion on 127.0.0.1:18101, one worker on core 0.
bench_reply='{"id":"chatcmpl-bench","object":"chat.completion","created":1,"model":"bench-upstream","choices":[{"index":0,"message":{"role":"assistant","content":"Hello, benchmark."},"finish_reason":"stop"}],"usage":{"prompt_tokens":14,"completion_tokens":4,"total_tokens":18}}'
start_origin() {
  command -v nginx >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light; }
  # The same origin over TLS on 18111, with a self-signed certificate for 127.0.0.1
  # ($work/origin.pem, which Keyguard is given as KEYGUARD_UPSTREAM_CA).
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$work/origin.key" -out "$work/origin.pem" \
    -days 2 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 2>/dev/null
  cat > "$work/origin.conf" <<NGINX
worker_processes 1;
pid $work/origin.pid;
error_log $work/origin-error.log;
events { worker_connections 4096; }
http { access_log off; keepalive_requests 10000000;
  server { listen 127.0.0.1:18101; location / { default_type application/json; return 200 '$bench_reply'; } }
  server { listen 127.0.0.1:18111 ssl; ssl_certificate $work/origin.pem; ssl_certificate_key $work/origin.key;
    location / { default_type application/json; return 200 '$bench_reply'; } } }
NGINX
  taskset -c 0 nginx -c "$work/origin.conf" -g 'daemon off; master_process off;' & pids+=($!)
}

# write_bench_policy [EXTRA_KGP] [EXTRA_MODELS]: the operator's $work/policies/platform/models.kgp
# (the model on the origin, and EXTRA_KGP's declarations) and the team's
# $work/policies/bench.kgp: a policy with 3 limits and 2 budgets, sized never to refuse.
write_bench_policy() {
  mkdir -p "$work/policies/platform"
  cat > "$work/policies/platform/models.kgp" <<KGP
provider origin { base_url "http://127.0.0.1:18101/v1" credential env("BENCH_API_KEY") }
provider origin_tls { base_url "https://127.0.0.1:18111/v1" credential env("BENCH_API_KEY") }
model "bench-model" { provider origin upstream "bench-upstream" price input 1 usd per 1m tokens, output 2 usd per 1m tokens max_class internal }
model "bench-model-tls" { provider origin_tls upstream "bench-upstream" price input 1 usd per 1m tokens, output 2 usd per 1m tokens max_class internal }
${1:-}
KGP
  cat > "$work/policies/bench.kgp" <<KGP
policy bench {
  tags { team: "bench" }
  models allow ["bench-model", "bench-model-tls"${2:-}]
  limit requests 100_000_000 per 1m by key
  limit tokens 100_000_000_000 per 1d by policy
  limit concurrent 10_000 by key
  budget 10_000_000 usd per day hard by policy
  budget 100_000_000 usd per month soft warn at 80% by policy
}
KGP
}

# async_profiler: fetches async-profiler 4.2 from Maven Central into $work; prints its agent's path.
async_profiler() {
  (cd "$work" && mvn -q -B dependency:copy -Dartifact=tools.profiler:async-profiler:4.2 -DoutputDirectory="$work" >/dev/null)
  unzip -q -o "$work/async-profiler-4.2.jar" 'linux-x64/*' -d "$work/ap"
  echo "$work/ap/linux-x64/libasyncProfiler.so"
}

# nginx_conf NAME SERVER_BLOCKS: $work/NAME.conf, one worker, no access log, keep-alive to the
# origin (upstream `origin` on 18101) with SERVER_BLOCKS inside its http block.
nginx_conf() {
  cat > "$work/$1.conf" <<NGINX
worker_processes 1;
pid $work/$1.pid;
error_log $work/$1-error.log;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 10000000;
  upstream origin { server 127.0.0.1:18101; keepalive 128; keepalive_requests 10000000; }
  $2
}
NGINX
}
