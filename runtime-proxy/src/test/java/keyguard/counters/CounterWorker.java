package keyguard.counters;

import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import keyguard.compiler.PolicyCompiler;
import keyguard.policy.Policy;

/**
 * A second process on the same data directory, for {@link TwoProcessTest}:
 * {@code <data> <policies> add N} admits and settles N requests, {@code cap N} tries N and
 * prints how many were admitted, {@code hold} settles five requests, admits a sixth, says so and waits to be killed.
 */
public final class CounterWorker {
    public static void main(String[] args) throws Exception {
        Path data = Path.of(args[0]);
        Policy policy = PolicyCompiler.compileDirectory(Path.of(args[1])).set().policy("p");
        try (Enforcer e = new Enforcer(ChronicleCounterStore.open(data, 10_000, 1024), Clock.systemUTC(), Duration.ofMinutes(15), null)) {
            KeyCounters kc = e.counters("worker-" + ProcessHandle.current().pid(), policy);
            System.out.println("ready");
            System.out.flush();
            if (System.in.read() < 0) return; // wait for go
            switch (args[2]) {
                case "add", "cap" -> {
                    int n = Integer.parseInt(args[3]);
                    int admitted = 0;
                    for (int i = 0; i < n; i++) {
                        if (e.admit(kc, 1, 1) instanceof Lease lease) {
                            admitted++;
                            e.settle(lease, true, 1, 1);
                        }
                    }
                    System.out.println("admitted " + admitted);
                }
                case "hold" -> {
                    for (int i = 0; i < 5; i++) e.settle((Lease) e.admit(kc, 500, 1000), true, 100, 200);
                    e.admit(kc, 500, 1000);
                    System.out.println("held");
                    System.out.flush();
                    Thread.sleep(Long.MAX_VALUE);
                }
                default -> throw new IllegalArgumentException(args[2]);
            }
        }
    }
}
