#!/usr/bin/env bash
# The JMH suite: every hot-path stage, with allocation per operation, in under ten minutes
# on the 2-core machine (3 × 1 s warm-up, 3 × 1 s measured, one fork; representative
# parameters). Results go to bench/results/jmh-<date>.txt; docs/benchmarks.md quotes them.
#   bench/jmh-suite.sh
# Each class also runs alone with its full parameters: bench/jmh.sh <Class> -prof gc
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
. "$root/scripts/java-env.sh"
keyguard_select_jdk
(cd "$root" && mvn -q -B -pl bench -am package -DskipTests)
mkdir -p "$root/bench/results"
out="$root/bench/results/jmh-$(date -u +%Y%m%d-%H%M).txt"
quick=(-f 1 -wi 3 -w 1 -i 3 -r 1 -prof gc -rf text)
run() { # CLASS [JMH options]: one class, its table appended to the results
  local cls="$1"; shift
  echo "== $cls $*" | tee -a "$out"
  # shellcheck disable=SC2046
  "$JAVA_HOME/bin/java" $(keyguard_jvm_flags "$root") -jar "$root/bench/target/benchmarks.jar" "$cls" "${quick[@]}" -rff "$out.part" "$@" > /dev/null
  grep -v 'gc.alloc.rate \|gc.count\|gc.time\|gc.churn' "$out.part" | tee -a "$out"
}
start=$(date +%s)
{ echo "JMH suite, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, $("$JAVA_HOME/bin/java" -version 2>&1 | head -n1), commit $(cd "$root" && git rev-parse --short HEAD)"; } | tee "$out"
run 'KeyLookupBenchmark'
run 'RequestParseBenchmark'
run 'DecideBenchmark' -p policy=search,rules20 -p scenario=allow,forbid
run 'CounterBenchmark' -bm avgt -tu ns
run 'TokenBenchmark'
run 'ClassifyBenchmark' -p bytes=1024,10240
run 'AuditAppendBenchmark'
run 'InProcessPathBenchmark'
run 'FunctionBenchmark'
rm -f "$out.part"
echo "suite took $(( $(date +%s) - start )) s; results in $out" | tee -a "$out"
