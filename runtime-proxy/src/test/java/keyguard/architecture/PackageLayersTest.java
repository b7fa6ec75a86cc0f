package keyguard.architecture;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The runtime's packages depend one way (docs/architecture.md, "Package layers"): read from
 * the sources' imports and qualified names, the graph of {@code keyguard.*} packages has no
 * cycle, and the wire protocol and the providers know nothing of the request path above them.
 */
class PackageLayersTest {
    private static final Pattern PACKAGE = Pattern.compile("^package (keyguard(?:\\.[a-z]+)*);", Pattern.MULTILINE);
    private static final Pattern CODE_ONLY = Pattern.compile("//[^\\n]*|/\\*.*?\\*/|\"(?:\\\\.|[^\"\\\\])*\"", Pattern.DOTALL);
    private static final Pattern REFERENCE = Pattern.compile("\\bkeyguard((?:\\.[a-z]+)+)\\.[A-Z]");

    static Map<String, Set<String>> graph() throws IOException {
        Path root = Path.of("").toAbsolutePath();
        while (!Files.isDirectory(root.resolve("runtime-proxy/src/main/java"))) root = root.getParent();
        Map<String, Set<String>> deps = new TreeMap<>();
        try (Stream<Path> files = Files.walk(root.resolve("runtime-proxy/src/main/java"))) {
            for (Path f : files.filter(p -> p.toString().endsWith(".java")).toList()) {
                String text = CODE_ONLY.matcher(Files.readString(f)).replaceAll(" "); // comments and strings are not dependencies
                Matcher pm = PACKAGE.matcher(Files.readString(f));
                if (!pm.find()) continue;
                String pkg = pm.group(1);
                Set<String> out = deps.computeIfAbsent(pkg, k -> new TreeSet<>());
                Matcher rm = REFERENCE.matcher(text);
                while (rm.find()) {
                    String target = "keyguard" + rm.group(1);
                    if (!target.equals(pkg)) out.add(target);
                }
            }
        }
        return deps;
    }

    @Test
    void noTwoRuntimePackagesDependOnEachOtherThroughAnyPath() throws IOException {
        Map<String, Set<String>> g = graph();
        List<String> cycles = new ArrayList<>();
        for (String start : g.keySet()) {
            for (String next : g.get(start)) {
                if (reaches(g, next, start, new TreeSet<>())) cycles.add(start + " -> " + next + " -> ... -> " + start);
            }
        }
        assertEquals(List.of(), cycles, "package cycles");
    }

    @Test
    void theWireProtocolAndTheProvidersKnowNothingOfTheRequestPathAboveThem() throws IOException {
        Map<String, Set<String>> g = graph();
        for (String low : List.of("keyguard.wire", "keyguard.providers", "keyguard.revision")) {
            for (String high : List.of("keyguard.proxy", "keyguard.admin", "keyguard.gateway")) {
                assertTrue(!reaches(g, low, high, new TreeSet<>()), low + " reaches " + high);
            }
        }
    }

    private static boolean reaches(Map<String, Set<String>> g, String from, String to, Set<String> seen) {
        if (from.equals(to)) return true;
        if (!seen.add(from)) return false;
        for (String n : g.getOrDefault(from, Set.of())) if (reaches(g, n, to, seen)) return true;
        return false;
    }
}
