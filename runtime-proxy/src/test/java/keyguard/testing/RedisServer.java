package keyguard.testing;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A real {@code redis-server} (Debian's package; {@code .ci/run} installs it) on a free
 * loopback port with its files in a test's directory, started and stopped by the test. With
 * persistence on, it writes an append-only file synced at every write, so a restart finds
 * everything it acknowledged, as the fleet's documentation asks of production Redis.
 */
public final class RedisServer implements AutoCloseable {
    public final int port;
    private final Path dir;
    private final boolean persistent;
    private Process process;

    private RedisServer(int port, Path dir, boolean persistent) {
        this.port = port;
        this.dir = dir;
        this.persistent = persistent;
    }

    /** Starts a server whose files live in {@code dir}; {@code persistent}: an fsync'd append-only file. */
    public static RedisServer start(Path dir, boolean persistent) throws Exception {
        Files.createDirectories(dir);
        RedisServer r = new RedisServer(GatewayProcess.freePort(), dir, persistent);
        r.start();
        return r;
    }

    public static String binary() {
        for (String p : new String[] {"/usr/bin/redis-server", "/usr/local/bin/redis-server"}) {
            if (Files.isExecutable(Path.of(p))) return p;
        }
        throw new AssertionError("redis-server is not installed: `apt-get install redis-server` (.ci/run does it)");
    }

    /** Starts (or starts again, on the same port and files) and waits for PONG, at most 20 s. */
    public void start() throws Exception {
        List<String> cmd = new ArrayList<>(List.of(binary(), "--port", Integer.toString(port), "--bind", "127.0.0.1", "--dir", dir.toString(),
                "--save", "", "--protected-mode", "yes", "--daemonize", "no", "--logfile", dir.resolve("redis.log").toString()));
        if (persistent) cmd.addAll(List.of("--appendonly", "yes", "--appendfsync", "always"));
        else cmd.addAll(List.of("--appendonly", "no"));
        process = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(dir.resolve("redis.out").toFile()).start();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (true) {
            try {
                if ("+PONG".equals(command("PING"))) return;
            } catch (IOException notYet) {
                // still starting
            }
            if (!process.isAlive() || System.nanoTime() > deadline) {
                process.destroyForcibly();
                throw new AssertionError("redis-server did not start on port " + port + ":\n" + log());
            }
            Thread.sleep(20);
        }
    }

    public String uri() { return "redis://127.0.0.1:" + port; }

    /** SIGKILL: no shutdown save (what it acknowledged is in the fsync'd append-only file). */
    public void kill() throws InterruptedException {
        if (process == null) return;
        process.destroyForcibly();
        if (!process.waitFor(20, TimeUnit.SECONDS)) throw new AssertionError("redis-server survived SIGKILL");
        process = null;
    }

    public boolean alive() { return process != null && process.isAlive(); }

    /** The keys matching {@code pattern} (KEYS: tests only, on a small database). */
    public List<String> keys(String pattern) throws IOException {
        try (Socket s = new Socket(InetAddress.getLoopbackAddress(), port)) {
            s.setSoTimeout(5000);
            send(s, "KEYS", pattern);
            InputStream in = s.getInputStream();
            String head = line(in);
            int n = Integer.parseInt(head.substring(1));
            List<String> out = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                int len = Integer.parseInt(line(in).substring(1));
                byte[] body = in.readNBytes(len + 2);
                out.add(new String(body, 0, len, StandardCharsets.UTF_8));
            }
            return out;
        }
    }

    private static void send(Socket s, String... words) throws IOException {
        StringBuilder req = new StringBuilder("*").append(words.length).append("\r\n");
        for (String w : words) {
            byte[] b = w.getBytes(StandardCharsets.UTF_8);
            req.append('$').append(b.length).append("\r\n").append(w).append("\r\n");
        }
        OutputStream out = s.getOutputStream();
        out.write(req.toString().getBytes(StandardCharsets.UTF_8));
        out.flush();
    }

    private static String line(InputStream in) throws IOException {
        StringBuilder line = new StringBuilder();
        int c;
        while ((c = in.read()) >= 0 && c != '\n') if (c != '\r') line.append((char) c);
        return line.toString();
    }

    /** Sends one command (words, inline) and returns the first line of the reply. */
    public String command(String... words) throws IOException {
        try (Socket s = new Socket(InetAddress.getLoopbackAddress(), port)) {
            s.setSoTimeout(5000);
            send(s, words);
            InputStream in = s.getInputStream();
            String line = line(in);
            if (line.charAt(0) == '$' && !line.equals("$-1")) {
                int n = Integer.parseInt(line.substring(1));
                byte[] body = in.readNBytes(n + 2);
                return new String(body, 0, n, StandardCharsets.UTF_8);
            }
            return line;
        }
    }

    private String log() {
        try {
            return Files.readString(dir.resolve("redis.out")) + (Files.exists(dir.resolve("redis.log")) ? Files.readString(dir.resolve("redis.log")) : "");
        } catch (IOException e) {
            return "(no log)";
        }
    }

    @Override
    public void close() throws InterruptedException {
        kill();
    }
}
