package keyguard.compiler;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Golden files with a bless switch: run with {@code -Dbless=true} (or
 * {@code KEYGUARD_BLESS=1}) to rewrite expected files from actual output, then review the
 * diff in git like any other change.
 */
public final class Golden {
    private Golden() {}

    public static boolean blessing() {
        return Boolean.getBoolean("bless") || "1".equals(System.getenv("KEYGUARD_BLESS"));
    }

    public static void check(Path expectedFile, String actual) {
        try {
            if (blessing()) {
                Files.createDirectories(expectedFile.getParent());
                if (!Files.exists(expectedFile) || !Files.readString(expectedFile).equals(actual)) Files.writeString(expectedFile, actual);
                return;
            }
            if (!Files.exists(expectedFile)) {
                throw new AssertionError(expectedFile + " does not exist; run with -Dbless=true to create it. Actual:\n" + actual);
            }
            assertEquals(Files.readString(expectedFile), actual, "golden file " + expectedFile + " (re-bless with -Dbless=true if intended)");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
