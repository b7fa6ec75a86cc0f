package keyguard.counters;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import keyguard.policy.CounterRef;
import keyguard.policy.Policy;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Two JVMs on one data directory. Chronicle's own {@code LongValue.addAtomicValue} loses
 * updates here; the store's CAS on the mapped words must not.
 */
class TwoProcessTest {
    @TempDir Path tmp;

    Path policyDir(String body) throws IOException {
        Path dir = Files.createDirectories(tmp.resolve("policies"));
        Files.writeString(Files.createDirectories(dir.resolve("platform")).resolve("models.kgp"), Fixtures.MODELS);
        Files.writeString(dir.resolve("p.kgp"), "policy p {\n  models allow [\"m\"]\n" + body + "\n}\n");
        return dir;
    }

    Process worker(Path data, Path policies, String... args) throws IOException {
        List<String> all = new ArrayList<>(List.of(data.toString(), policies.toString()));
        all.addAll(List.of(args));
        return new ProcessBuilder(keyguard.testing.ChildJvm.command(CounterWorker.class.getName(), all.toArray(new String[0])))
                .redirectError(ProcessBuilder.Redirect.INHERIT).start();
    }

    static String line(Process p) throws IOException {
        BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
        String l = r.readLine();
        if (l == null) throw new AssertionError("the worker ended without answering");
        return l;
    }

    static void go(Process... ps) throws IOException {
        for (Process p : ps) {
            p.getOutputStream().write('\n');
            p.getOutputStream().flush();
        }
    }

    @Test
    void twoProcessesIncrementingOneCounterLoseNoUpdate() throws Exception {
        Path data = Files.createDirectories(tmp.resolve("data"));
        Path policies = policyDir("limit requests 10_000_000 per 1d by policy\nbudget 1000 usd per day hard by policy");
        int n = 50_000;
        Process a = worker(data, policies, "add", "" + n);
        Process b = worker(data, policies, "add", "" + n);
        assertEquals("ready", line(a));
        assertEquals("ready", line(b));
        go(a, b);
        assertEquals("admitted " + n, line(a));
        assertEquals("admitted " + n, line(b));
        assertTrue(a.waitFor(30, TimeUnit.SECONDS) && b.waitFor(30, TimeUnit.SECONDS));
        Policy p = keyguard.compiler.PolicyCompiler.compileDirectory(policies).set().policy("p");
        try (Enforcer e = new Enforcer(ChronicleCounterStore.open(data, 10_000, 64), Clock.systemUTC(), Duration.ofMinutes(15), null)) {
            KeyCounters kc = e.counters("reader", p);
            assertEquals(2L * n, kc.used(CounterRef.parse("requests.policy.1d")));
            assertEquals(2L * n, kc.used(CounterRef.parse("spend.policy.day")));
        }
    }

    @Test
    void twoProcessesRacingForOneCapAdmitExactlyTheCap() throws Exception {
        Path data = Files.createDirectories(tmp.resolve("data"));
        Path policies = policyDir("limit requests 30_001 per 1d by policy");
        Process a = worker(data, policies, "cap", "20000");
        Process b = worker(data, policies, "cap", "20000");
        assertEquals("ready", line(a));
        assertEquals("ready", line(b));
        go(a, b);
        int admitted = Integer.parseInt(line(a).split(" ")[1]) + Integer.parseInt(line(b).split(" ")[1]);
        assertEquals(30_001, admitted);
        assertTrue(a.waitFor(30, TimeUnit.SECONDS) && b.waitFor(30, TimeUnit.SECONDS));
    }

    @Test
    void afterAKill9SettledUsageIsKeptAndReservationsInFlightAreReleased() throws Exception {
        Path data = Files.createDirectories(tmp.resolve("data"));
        Path policies = policyDir("limit concurrent 1 by policy\nlimit requests 100 per 1d by policy\n"
                + "limit tokens 1500 per 1d by policy\nbudget 0.0025 usd per day hard by policy");
        Process holder = worker(data, policies, "hold");
        assertEquals("ready", line(holder));
        go(holder);
        assertEquals("held", line(holder));
        holder.destroyForcibly(); // SIGKILL: no shutdown hook, no settle
        assertTrue(holder.waitFor(30, TimeUnit.SECONDS));
        Policy p = keyguard.compiler.PolicyCompiler.compileDirectory(policies).set().policy("p");
        try (Enforcer e = new Enforcer(ChronicleCounterStore.open(data, 10_000, 64), Clock.systemUTC(), Duration.ofMinutes(15), null)) {
            KeyCounters kc = e.counters("after", p);
            assertEquals(0, kc.used(CounterRef.parse("concurrent.policy")));
            assertEquals(6, kc.used(CounterRef.parse("requests.policy.1d")), "five settled and one made before the kill");
            assertEquals(500, kc.used(CounterRef.parse("tokens.policy.1d")), "what the five used; the sixth's reservation is gone");
            assertEquals(1000, kc.used(CounterRef.parse("spend.policy.day")));
            assertInstanceOf(Lease.class, e.admit(kc, 1000, 1500), "everything the dead process held is free again");
        }
    }
}
