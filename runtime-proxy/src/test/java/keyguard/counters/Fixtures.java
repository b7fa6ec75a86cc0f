package keyguard.counters;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.concurrent.atomic.AtomicLong;
import keyguard.compiler.PolicyCompiler;
import keyguard.policy.Policy;

/** Policies compiled from text, and a clock the test moves. */
public final class Fixtures {
    private Fixtures() {}

    static final String MODELS = """
            provider sim { builtin simulator }
            model "m" { provider sim price input 1 usd per 1m tokens, output 2 usd per 1m tokens max_class internal }
            """;

    /** Compiles {@code policy p { models allow ["m"] <body> }} and returns policy p. */
    static Policy policy(Path dir, String body) {
        try {
            Path src = Files.createDirectories(dir.resolve("policies-" + System.nanoTime()));
            Files.writeString(Files.createDirectories(src.resolve("platform")).resolve("models.kgp"), MODELS);
            Files.writeString(src.resolve("p.kgp"), "policy p {\n  models allow [\"m\"]\n" + body + "\n}\n");
            PolicyCompiler.Result r = PolicyCompiler.compileDirectory(src);
            if (!r.ok()) throw new AssertionError("policy does not compile: " + r.diagnostics().render());
            return r.set().policy("p");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public static final class MovableClock extends Clock {
        private final AtomicLong millis;

        public MovableClock(Instant start) { millis = new AtomicLong(start.toEpochMilli()); }

        public void advance(long ms) { millis.addAndGet(ms); }

        public void set(Instant t) { millis.set(t.toEpochMilli()); }

        @Override public long millis() { return millis.get(); }

        @Override public Instant instant() { return Instant.ofEpochMilli(millis.get()); }

        @Override public ZoneId getZone() { return ZoneOffset.UTC; }

        @Override public Clock withZone(ZoneId zone) { throw new UnsupportedOperationException(); }
    }
}
