package keyguard.testing;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * {@code keyguard serve} in a JVM of its own, for tests that kill a gateway or run several:
 * started, waited for (its "ready" line, with a deadline), its output kept, and killed.
 */
public final class GatewayProcess implements AutoCloseable {
    public final Process process;
    public final int port;
    public final int adminPort;
    public final List<String> output = new CopyOnWriteArrayList<>();
    private final CountDownLatch ready = new CountDownLatch(1);
    private volatile boolean sawReady;

    private GatewayProcess(Process process, int port, int adminPort) {
        this.process = process;
        this.port = port;
        this.adminPort = adminPort;
        BufferedReader out = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8));
        Thread.ofPlatform().daemon().name("gateway-output-" + port).start(() -> {
            try {
                String line;
                while ((line = out.readLine()) != null) {
                    output.add(line);
                    if (line.contains("keyguard: ready")) {
                        sawReady = true;
                        ready.countDown();
                    }
                }
            } catch (IOException ignored) {
                // the process died
            } finally {
                ready.countDown();
            }
        });
    }

    /**
     * Starts {@code keyguard serve} on free ports with these extra arguments and waits up to
     * {@code deadline} for it to be ready; throws with its output if it is not.
     */
    public static GatewayProcess start(Duration deadline, String... serveArgs) throws Exception {
        return start(deadline, java.util.Map.of(), serveArgs);
    }

    /** As {@link #start(Duration, String...)}, with these environment variables added. */
    public static GatewayProcess start(Duration deadline, java.util.Map<String, String> env, String... serveArgs) throws Exception {
        return start(deadline, freePort(), freePort(), env, serveArgs);
    }

    /** As {@link #start(Duration, java.util.Map, String...)} on given ports (a node started again where it was). */
    public static GatewayProcess start(Duration deadline, int port, int adminPort, java.util.Map<String, String> env, String... serveArgs)
            throws Exception {
        List<String> args = new ArrayList<>(List.of("serve", "--port", "" + port, "--admin-port", "" + adminPort));
        args.addAll(List.of(serveArgs));
        ProcessBuilder pb = new ProcessBuilder(ChildJvm.command("keyguard.cli.Main", args.toArray(String[]::new))).redirectErrorStream(true);
        pb.environment().putAll(env);
        Process p = pb.start();
        GatewayProcess g = new GatewayProcess(p, port, adminPort);
        if (!g.ready.await(deadline.toMillis(), TimeUnit.MILLISECONDS) || !g.sawReady) {
            p.destroyForcibly();
            throw new AssertionError("the gateway did not start within " + deadline + ":\n" + String.join("\n", g.output));
        }
        return g;
    }

    public String base() { return "http://127.0.0.1:" + port; }

    public String adminBase() { return "http://127.0.0.1:" + adminPort; }

    /** SIGKILL, and waits for the process to be gone. */
    public void kill() throws InterruptedException {
        process.destroyForcibly();
        if (!process.waitFor(30, TimeUnit.SECONDS)) throw new AssertionError("the gateway survived SIGKILL for 30 s");
    }

    public static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    @Override
    public void close() throws InterruptedException {
        if (process.isAlive()) kill();
    }
}
