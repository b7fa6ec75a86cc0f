#!/usr/bin/env bash
# Heap and counter latency with many keys: bench/million-keys.sh 1000 100000 1000000
# The heap is capped at 512 MB (the target): a run that needs more fails with OutOfMemoryError.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
. "$root/scripts/java-env.sh"
keyguard_select_jdk
[ -f "$root/bench/target/benchmarks.jar" ] || (cd "$root" && mvn -q -B -pl bench -am package -DskipTests)
exec "$JAVA_HOME/bin/java" $(keyguard_jvm_flags "$root") -Xmx512m -XX:+UseG1GC -cp "$root/bench/target/benchmarks.jar" \
  keyguard.bench.MillionKeys "${@:-1000 1000000}"
