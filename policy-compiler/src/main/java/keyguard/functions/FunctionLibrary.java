package keyguard.functions;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.MalformedURLException;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.ServiceConfigurationError;
import java.util.ServiceLoader;
import java.util.stream.Stream;
import keyguard.policy.ir.Builtin;

/**
 * The Java plugin functions of a deployment: every {@link PolicyFunction} that
 * {@link ServiceLoader} finds in the jars of one folder, loaded once at start-up. Plugins
 * are trusted code (they run in the gateway's JVM, like any jar on its class path); the
 * sandbox is for JavaScript.
 */
public final class FunctionLibrary {
    public static final FunctionLibrary NONE = new FunctionLibrary(Map.of(), List.of());

    private final Map<String, FunctionRef> functions;
    private final List<Path> jars;

    private FunctionLibrary(Map<String, FunctionRef> functions, List<Path> jars) {
        this.functions = functions;
        this.jars = jars;
    }

    /**
     * Functions given as objects, for embedding Keyguard and for benchmarks: the same checks
     * as {@link #load}, with {@code origin} as where they came from.
     */
    public static FunctionLibrary of(String origin, PolicyFunction... functions) {
        Map<String, FunctionRef> out = new LinkedHashMap<>();
        for (PolicyFunction f : functions) {
            FunctionRef ref = FunctionRef.ofPlugin(f, origin);
            String problem = nameProblem(ref.name());
            if (problem != null) throw new IllegalArgumentException(origin + ": " + f.getClass().getName() + " " + problem);
            if (out.putIfAbsent(ref.name(), ref) != null) throw new IllegalArgumentException("function `" + ref.name() + "` is defined twice in " + origin);
        }
        return new FunctionLibrary(Collections.unmodifiableMap(out), List.of());
    }

    /** The function of that name, or null. */
    public FunctionRef get(String name) { return functions.get(name); }

    public Map<String, FunctionRef> functions() { return functions; }

    public List<Path> jars() { return jars; }

    /**
     * Loads every {@code *.jar} in {@code dir} (not its subfolders) in one class loader
     * whose parent is Keyguard's, so plugins see the SPI and may share libraries.
     *
     * @throws IllegalArgumentException naming the jar and the problem: a class that cannot
     *     be loaded, an {@code apply} with unsupported types, two functions with one name,
     *     or a name that a built-in already has
     */
    public static FunctionLibrary load(Path dir) {
        if (!Files.isDirectory(dir)) throw new IllegalArgumentException("plugin folder " + dir + " does not exist");
        List<Path> jars;
        try (Stream<Path> s = Files.list(dir)) {
            jars = s.filter(p -> p.getFileName().toString().endsWith(".jar") && Files.isRegularFile(p)).sorted().toList();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list plugin folder " + dir + ": " + e.getMessage(), e);
        }
        if (jars.isEmpty()) return new FunctionLibrary(Map.of(), List.of());
        List<URL> urls = new ArrayList<>();
        for (Path j : jars) {
            try {
                urls.add(j.toUri().toURL());
            } catch (MalformedURLException e) {
                throw new IllegalArgumentException("plugin jar " + j + ": " + e.getMessage(), e);
            }
        }
        ClassLoader loader = new URLClassLoader("keyguard-plugins", urls.toArray(URL[]::new), FunctionLibrary.class.getClassLoader());
        Map<String, FunctionRef> out = new LinkedHashMap<>();
        try {
            for (ServiceLoader.Provider<PolicyFunction> p : ServiceLoader.load(PolicyFunction.class, loader).stream().toList()) {
                String origin = "plugin " + jarOf(p.type(), dir);
                PolicyFunction f;
                try {
                    f = p.get();
                } catch (ServiceConfigurationError | RuntimeException e) {
                    throw new IllegalArgumentException(origin + ": cannot create " + p.type().getName() + ": " + e.getMessage(), e);
                }
                FunctionRef ref;
                try {
                    ref = FunctionRef.ofPlugin(f, origin);
                } catch (RuntimeException e) {
                    throw new IllegalArgumentException(origin + ": " + e.getMessage(), e);
                }
                String problem = nameProblem(ref.name());
                if (problem != null) throw new IllegalArgumentException(origin + ": " + p.type().getName() + " " + problem);
                FunctionRef previous = out.putIfAbsent(ref.name(), ref);
                if (previous != null) {
                    throw new IllegalArgumentException("function `" + ref.name() + "` is defined twice: by " + previous.origin() + " and by " + origin);
                }
            }
        } catch (ServiceConfigurationError e) {
            throw new IllegalArgumentException("plugin folder " + dir + ": " + e.getMessage(), e);
        }
        return new FunctionLibrary(Collections.unmodifiableMap(out), jars);
    }

    /** Why {@code name} cannot name a function, or null. */
    public static String nameProblem(String name) {
        if (name == null || !name.matches("[A-Za-z_][A-Za-z_0-9]*")) return "has an invalid function name `" + name + "` (letters, digits and `_`)";
        if (Builtin.byWord(name) != null) return "uses the name of the built-in function `" + name + "`";
        return null;
    }

    private static String jarOf(Class<?> c, Path dir) {
        try {
            return dir.relativize(Path.of(c.getProtectionDomain().getCodeSource().getLocation().toURI())).toString();
        } catch (Exception e) {
            return c.getName();
        }
    }
}
