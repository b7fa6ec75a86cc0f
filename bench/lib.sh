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

# start_keyguard PORT ADMIN_PORT: serves $work/policies, pinned to core 1; waits until ready.
start_keyguard() {
  BENCH_KEY=sk-bench taskset -c 1 "$JAVA_HOME/bin/java" $(keyguard_jvm_flags "$root") ${KEYGUARD_BENCH_JAVA_OPTS:-} \
    -jar "$root/runtime-proxy/target/keyguard.jar" serve --policies "$work/policies" --data "$work/data" \
    --port "$1" --admin-port "$2" > "$work/keyguard.log" 2>&1 &
  pids+=($!)
  keyguard_pid=$!
  for _ in $(seq 1 60); do grep -qs "ready" "$work/keyguard.log" && return 0; sleep 0.5; done
  echo "keyguard did not start; see $work/keyguard.log" >&2
  return 1
}

# new_key ADMIN_PORT POLICY: prints a fresh key's secret.
new_key() {
  KEYGUARD_ADMIN_URL="http://127.0.0.1:$1" "$JAVA_HOME/bin/java" -jar "$root/runtime-proxy/target/keyguard.jar" \
    keys create --data "$work/data" --policy "$2" --name bench | tail -n 1
}

machine_line() {
  echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); JDK $("$JAVA_HOME/bin/java" -version 2>&1 | head -n1); commit $(cd "$root" && git rev-parse --short HEAD)"
}
