package keyguard.bench;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import keyguard.keys.ChronicleKeyStore;
import keyguard.keys.KeyRecord;
import keyguard.keys.KeySecrets;
import keyguard.keys.KeyState;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Authenticating a virtual key, in a store of 10,000 keys on a real Chronicle Map file.
 *
 * <ul>
 *   <li>{@code hit}: the id out of the presented secret, the record from the on-heap index,
 *       the HMAC-SHA-256 of the secret compared in constant time: a valid key.</li>
 *   <li>{@code miss}: an id no key has (a typo, a revoked-and-purged key): the lookup alone.</li>
 *   <li>{@code wrongSecret}: a known id with a forged secret: lookup and HMAC, then refused.</li>
 *   <li>{@code baseline}: the id parsing alone, the part every variant shares.</li>
 * </ul>
 * Traps avoided: every result goes back to JMH (no dead code); secrets are fields of the
 * state, so nothing folds to a constant; the keys are spread over the store, not one hot entry.
 *
 * <pre>bench/jmh.sh KeyLookupBenchmark -prof gc</pre>
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 5, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class KeyLookupBenchmark {
    private Path dir;
    private ChronicleKeyStore keys;
    private KeySecrets secrets;
    private String valid;
    private String unknown;
    private String forged;

    @Setup(Level.Trial)
    public void setup() {
        dir = BenchFiles.tempDir("keyguard-keys-bench");
        keys = ChronicleKeyStore.open(dir.resolve("keys.dat"), 20_000);
        secrets = new KeySecrets(KeySecrets.newServerSecret());
        for (int i = 0; i < 10_000; i++) {
            KeySecrets.NewSecret s = KeySecrets.generate();
            keys.put(new KeyRecord(s.id(), "bench-" + i, "team", "bench", Map.of(), Instant.now(), null, KeyState.ACTIVE, secrets.hash(s.secret())));
            if (i == 5_000) valid = s.secret();
        }
        unknown = KeySecrets.generate().secret();
        forged = valid.substring(0, valid.length() - 4) + (valid.endsWith("aaaa") ? "bbbb" : "aaaa");
    }

    @TearDown(Level.Trial)
    public void close() throws IOException {
        keys.close();
        BenchFiles.delete(dir);
    }

    @Benchmark
    public String baseline() {
        return KeySecrets.idOf(valid);
    }

    @Benchmark
    public boolean hit() {
        KeyRecord k = keys.get(KeySecrets.idOf(valid));
        return k != null && secrets.matches(valid, k.secretHash());
    }

    @Benchmark
    public boolean miss() {
        KeyRecord k = keys.get(KeySecrets.idOf(unknown));
        return k != null && secrets.matches(unknown, k.secretHash());
    }

    @Benchmark
    public boolean wrongSecret() {
        KeyRecord k = keys.get(KeySecrets.idOf(forged));
        return k != null && secrets.matches(forged, k.secretHash());
    }
}
