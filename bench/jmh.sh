#!/usr/bin/env bash
# Runs JMH benchmarks with Keyguard's JVM flags (the forks inherit them), e.g.
#   bench/jmh.sh CounterBenchmark -prof gc
#   bench/jmh.sh                       # the whole suite
#   bench/jmh.sh --graal-jit FunctionBenchmark   # with Truffle's optimizing runtime for JS functions
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
. "$root/scripts/java-env.sh"
keyguard_select_jdk
[ -f "$root/bench/target/benchmarks.jar" ] || (cd "$root" && mvn -q -B -pl bench -am package -DskipTests)
extra=()
if [ "${1:-}" = "--graal-jit" ]; then
  shift
  [ -d "$root/runtime-proxy/target/jvmci" ] || (cd "$root" && mvn -q -B -pl runtime-proxy -am package -DskipTests)
  extra=(-jvmArgsAppend "$(keyguard_graal_jit_flags "$root")")
fi
# shellcheck disable=SC2046
exec "$JAVA_HOME/bin/java" $(keyguard_jvm_flags "$root") -jar "$root/bench/target/benchmarks.jar" "${extra[@]}" "$@"
