package keyguard.functions;

import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.jar.JarEntry;
import java.util.jar.JarOutputStream;
import java.util.stream.Stream;
import javax.tools.JavaCompiler;
import javax.tools.ToolProvider;

/**
 * Builds a real plugin jar in a test: Java sources compiled with the JDK's compiler
 * against the test's class path, a {@code META-INF/services} entry, and a jar file. What
 * a deployment would build with Maven, without a second build.
 */
public final class PluginJars {
    private PluginJars() {}

    /**
     * @param sources class name (with package) to Java source
     * @param services the classes listed in {@code META-INF/services/keyguard.functions.PolicyFunction}
     */
    public static Path build(Path dir, String jarName, Map<String, String> sources, List<String> services) {
        try {
            Path src = Files.createTempDirectory("plugin-src");
            Path classes = Files.createTempDirectory("plugin-classes");
            List<String> args = new ArrayList<>(List.of("-d", classes.toString(), "-cp", System.getProperty("java.class.path"), "--release", "25"));
            for (Map.Entry<String, String> e : sources.entrySet()) {
                Path f = src.resolve(e.getKey().replace('.', '/') + ".java");
                Files.createDirectories(f.getParent());
                Files.writeString(f, e.getValue());
                args.add(f.toString());
            }
            JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
            int rc = javac.run(null, null, null, args.toArray(String[]::new));
            if (rc != 0) throw new IllegalStateException("javac failed for the test plugin: exit " + rc);
            Files.createDirectories(dir);
            Path jar = dir.resolve(jarName);
            try (JarOutputStream out = new JarOutputStream(Files.newOutputStream(jar)); Stream<Path> walk = Files.walk(classes)) {
                for (Path p : walk.filter(Files::isRegularFile).sorted().toList()) {
                    out.putNextEntry(new JarEntry(classes.relativize(p).toString().replace('\\', '/')));
                    Files.copy(p, out);
                    out.closeEntry();
                }
                out.putNextEntry(new JarEntry("META-INF/services/" + PolicyFunction.class.getName()));
                OutputStream o = out;
                o.write((String.join("\n", services) + "\n").getBytes(StandardCharsets.UTF_8));
                out.closeEntry();
            }
            return jar;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The plugin the docs describe: a cost-centre check, a team lookup, and one that always throws. */
    public static Path acme(Path dir) {
        return build(dir, "acme-functions.jar", Map.of(
                "com.acme.keyguard.CostCenterValid", """
                        package com.acme.keyguard;

                        import keyguard.functions.PolicyFunction;

                        /** Cost centres look like CC-1234. */
                        public final class CostCenterValid implements PolicyFunction {
                            public String name() { return "cost_center_valid"; }
                            public String description() { return "true when the text is a cost centre such as CC-1234"; }
                            public boolean apply(String text) {
                                if (text.length() != 7 || !text.startsWith("CC-")) return false;
                                for (int i = 3; i < 7; i++) if (!Character.isDigit(text.charAt(i))) return false;
                                return true;
                            }
                        }
                        """,
                "com.acme.keyguard.TeamTier", """
                        package com.acme.keyguard;

                        import java.util.Map;
                        import keyguard.functions.PolicyFunction;

                        /** A team's support tier, 0 when unknown. */
                        public final class TeamTier implements PolicyFunction {
                            private static final Map<String, Long> TIERS = Map.of("search", 1L, "ads", 2L, "interns", 3L);
                            public String name() { return "team_tier"; }
                            public int cost() { return 2; }
                            public long apply(String team) { return TIERS.getOrDefault(team, 0L); }
                        }
                        """,
                "com.acme.keyguard.Flaky", """
                        package com.acme.keyguard;

                        import keyguard.functions.PolicyFunction;

                        /** Fails for one input: how a plugin bug looks in a decision. */
                        public final class Flaky implements PolicyFunction {
                            public String name() { return "flaky"; }
                            public boolean pure() { return false; }
                            public boolean apply(String text) {
                                if (text.equals("boom")) throw new IllegalStateException("directory service unreachable");
                                return false;
                            }
                        }
                        """),
                List.of("com.acme.keyguard.CostCenterValid", "com.acme.keyguard.TeamTier", "com.acme.keyguard.Flaky"));
    }
}
