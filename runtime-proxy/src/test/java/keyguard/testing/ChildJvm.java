package keyguard.testing;

import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.List;

/** A command line that starts a second JVM like this one: same JDK, Chronicle flags and class path. */
public final class ChildJvm {
    private ChildJvm() {}

    public static List<String> command(String mainClass, String... args) {
        List<String> cmd = new ArrayList<>();
        cmd.add(ProcessHandle.current().info().command().orElseThrow());
        for (String a : ManagementFactory.getRuntimeMXBean().getInputArguments()) {
            if (a.startsWith("--add-") || a.startsWith("--enable-native") || a.startsWith("--sun-misc") || a.startsWith("-Dchronicle")) cmd.add(a);
        }
        cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), mainClass));
        cmd.addAll(List.of(args));
        return cmd;
    }
}
