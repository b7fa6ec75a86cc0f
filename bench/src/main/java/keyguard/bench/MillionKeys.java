package keyguard.bench;

import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.SplittableRandom;
import keyguard.counters.ChronicleCounterStore;
import keyguard.counters.Enforcer;
import keyguard.counters.KeyCounters;
import keyguard.counters.Lease;
import keyguard.keys.ChronicleKeyStore;
import keyguard.keys.KeyRecord;
import keyguard.keys.KeySecrets;
import keyguard.keys.KeyState;
import keyguard.policy.Policy;
import org.HdrHistogram.Histogram;

/**
 * Many keys with live counters: heap after a full GC, and the latency of one request's
 * counter work (key lookup, bound counters, reserve, settle) for a random key, at each
 * key count given. Each key has three counters of its own and shares two with its policy.
 *
 * <pre>
 * bench/million-keys.sh 1000 1000000
 * </pre>
 */
public final class MillionKeys {
    static final String POLICY = """
            policy many {
              models allow ["gpt-4o-mini"]
              limit requests 1_000_000 per 1m by key
              limit tokens 1_000_000_000 per 1d by key
              limit concurrent 100 by key
              budget 100_000 usd per day hard by policy
              budget 1_000_000 usd per month soft by policy
            }
            """;

    public static void main(String[] args) throws Exception {
        Policy policy = ExamplePolicies.compileWith(POLICY).policy("many");
        System.out.printf("%10s %12s %12s %10s %10s %10s %10s%n", "keys", "setup s", "heap MB", "p50 ns", "p90 ns", "p99 ns", "p99.9 ns");
        for (String a : args) {
            int n = Integer.parseInt(a.replace("_", ""));
            Path dir = Files.createTempDirectory("keyguard-million");
            long t0 = System.nanoTime();
            try (ChronicleKeyStore keys = ChronicleKeyStore.open(dir.resolve("keys.dat"), n + 1000L);
                 Enforcer enforcer = new Enforcer(ChronicleCounterStore.open(dir, 3L * n + 1000, 1024), Clock.systemUTC(),
                         Duration.ofMinutes(30), null)) {
                String[] ids = new String[n];
                String hash = new KeySecrets(KeySecrets.newServerSecret()).hash("kg-unused");
                Instant now = Instant.now();
                for (int i = 0; i < n; i++) {
                    String id = KeySecrets.generate().id();
                    ids[i] = id;
                    keys.put(new KeyRecord(id, "svc-" + i, "team-" + (i % 100), "many", Map.of(), now, null, KeyState.ACTIVE, hash));
                    enforcer.settle((Lease) enforcer.admit(enforcer.counters(id, policy), 100, 10), true, 50, 5);
                }
                double setup = (System.nanoTime() - t0) / 1e9;
                long heap = heapAfterGc();
                Histogram h = new Histogram(3);
                SplittableRandom random = new SplittableRandom(7);
                for (int round = 0; round < 2; round++) { // the first round warms up
                    h.reset();
                    for (int i = 0; i < 2_000_000; i++) {
                        String id = ids[random.nextInt(n)];
                        long s = System.nanoTime();
                        KeyRecord key = keys.get(id);
                        KeyCounters kc = enforcer.counters(key.id(), policy);
                        enforcer.settle((Lease) enforcer.admit(kc, 100, 10), true, 50, 5);
                        h.recordValue(System.nanoTime() - s);
                    }
                }
                System.out.printf("%10d %12.1f %12d %10d %10d %10d %10d%n", n, setup, heap >> 20, h.getValueAtPercentile(50),
                        h.getValueAtPercentile(90), h.getValueAtPercentile(99), h.getValueAtPercentile(99.9));
                ids = null;
            }
            try (var files = Files.list(dir)) {
                for (Path f : files.toList()) Files.delete(f);
            }
            Files.delete(dir);
        }
    }

    static long heapAfterGc() {
        for (int i = 0; i < 3; i++) System.gc();
        return ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
    }
}
