#!/usr/bin/env bash
# Fleet mode against a single node, same harness, same run (bench/fleet.sh):
#   1. two gateways at once on core 1 over the same nginx origin (core 0): one single node,
#      one with --redis (Redis on core 0, appendonly + appendfsync always, as fleet.md asks);
#      the bench policy (3 limits, 2 budgets, never refusing) — every counter is a fleet counter;
#   2. open loop at RATE, then closed loop, each alternating single / fleet / single / fleet;
#      Redis round trips per request from the fleet node's own metrics (all of them:
#      slices, heartbeats, the key log, spend);
#   3. two more fleet nodes: revocations (and creations) acknowledged by all three, timed;
#   4. Redis memory per active key (one request each) from INFO memory.
#   bench/fleet.sh [RATE] [WARMUP_S] [DURATION_S] [KEYS]
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
rate="${1:-1000}"; warmup="${2:-30}"; duration="${3:-30}"; nkeys="${4:-1000}"
command -v redis-server >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server; }

export KEYGUARD_ADMIN_TOKEN="kga-$(openssl rand -hex 24)"
export KEYGUARD_SERVER_SECRET="$(openssl rand -hex 32)"
mkdir -p "$work/redis"
taskset -c 0 redis-server --port 18110 --bind 127.0.0.1 --dir "$work/redis" --save '' --appendonly yes --appendfsync always \
  --logfile "$work/redis.log" & pids+=($!)
for _ in $(seq 1 50); do redis-cli -p 18110 ping >/dev/null 2>&1 && break; sleep 0.1; done
redis="redis://127.0.0.1:18110"

start_origin
write_bench_policy
KG_DATA="$work/single" KG_LOG="$work/single.log" start_keyguard 18103 18104
KG_DATA="$work/fleet-1" KG_LOG="$work/fleet-1.log" start_keyguard 18105 18106 --redis "$redis" --node gw-1
single_key=$(KEYGUARD_ADMIN_URL=http://127.0.0.1:18104 "$JAVA_HOME/bin/java" -jar "$root/runtime-proxy/target/keyguard.jar" keys create --policy bench --name bench | tail -n 1)
fleet_key=$(KEYGUARD_ADMIN_URL=http://127.0.0.1:18106 "$JAVA_HOME/bin/java" -jar "$root/runtime-proxy/target/keyguard.jar" keys create --policy bench --name bench | tail -n 1)

metric() { curl -s http://127.0.0.1:18106/metrics | awk -v m="$1" '$1 ~ "^"m { s += $2 } END { printf "%d", s }'; }
load() { taskset -c 0 "$JAVA_HOME/bin/java" -cp "$root/bench/target/benchmarks.jar" keyguard.bench.OpenLoopLoad --warmup "$warmup" --duration "$duration" --connections 64 "$@"; }
fleet_run() {
  local rt0 rq0 rt1 rq1
  rt0=$(metric keyguard_fleet_redis_round_trips_total); rq0=$(metric keyguard_requests_total)
  load --label "fleet $1" --url http://127.0.0.1:18105/v1/chat/completions --key "$fleet_key" "${@:2}"
  rt1=$(metric keyguard_fleet_redis_round_trips_total); rq1=$(metric keyguard_requests_total)
  echo "fleet $1: $((rt1 - rt0)) Redis round trips for $((rq1 - rq0)) requests: $(awk -v a=$((rt1 - rt0)) -v b=$((rq1 - rq0)) 'BEGIN { printf "%.4f", a / b }') per request"
}
machine_line
for round in 1 2; do
  load --label "single open-$round" --url http://127.0.0.1:18103/v1/chat/completions --key "$single_key" --rate "$rate"
  fleet_run "open-$round" --rate "$rate"
done
for round in 1 2; do
  load --label "single closed-$round" --url http://127.0.0.1:18103/v1/chat/completions --key "$single_key" --closed
  fleet_run "closed-$round" --closed
done

echo "--- revocations, three nodes"
KG_CORES=0,1 KG_DATA="$work/fleet-2" KG_LOG="$work/fleet-2.log" start_keyguard 18107 18108 --redis "$redis" --node gw-2
KG_CORES=0,1 KG_DATA="$work/fleet-3" KG_LOG="$work/fleet-3.log" start_keyguard 18109 18111 --redis "$redis" --node gw-3
sleep 2
"$JAVA_HOME/bin/java" -cp "$root/bench/target/benchmarks.jar" keyguard.bench.FleetRevocations --admin http://127.0.0.1:18106 \
  --token "$KEYGUARD_ADMIN_TOKEN" --policy bench --count 500 --warmup 50

echo "--- Redis memory per active key"
before=$(redis-cli -p 18110 info memory | awk -F: '/^used_memory:/ { print $2 }' | tr -d '\r')
for i in $(seq 1 "$nkeys"); do
  k=$(curl -s -X POST http://127.0.0.1:18106/admin/keys -H "authorization: Bearer $KEYGUARD_ADMIN_TOKEN" \
        -d '{"policy":"bench","name":"mem"}' | sed -E 's/.*"secret":"([^"]+)".*/\1/')
  port=18105; case $((i % 3)) in 1) port=18107;; 2) port=18109;; esac
  curl -s -o /dev/null http://127.0.0.1:$port/v1/chat/completions -H "authorization: Bearer $k" \
    -d '{"model":"bench-model","max_tokens":16,"messages":[{"role":"user","content":"hi"}]}'
done
sleep 1
after=$(redis-cli -p 18110 info memory | awk -F: '/^used_memory:/ { print $2 }' | tr -d '\r')
echo "Redis used_memory: $before -> $after bytes for $nkeys keys created and used once each (on one of three nodes): $(( (after - before) / nkeys )) bytes a key"
redis-cli -p 18110 --scan --pattern 'kg:*' | sed -E 's/^(kg:[a-z]+(:[a-z]+)?).*/\1/' | sort | uniq -c | sort -rn | head -12
