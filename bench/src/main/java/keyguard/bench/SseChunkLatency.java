package keyguard.bench;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;
import org.HdrHistogram.Histogram;

/**
 * How long an SSE chunk takes from the moment the upstream writes it to the moment the
 * caller has read it, directly and through a gateway. This JVM hosts both ends — an
 * OpenAI-shaped streaming upstream whose every chunk carries its {@code System.nanoTime()}
 * send time, and the reader — so the two times come from one clock.
 *
 * <p>Both ends are single selector threads ({@link SseUpstream}, {@link SseReaders}), and
 * the streams' chunks are spread evenly over the gap instead of all falling due in the same
 * millisecond: the earlier harness (a thread per stream on each side, all streams in step)
 * delivered direct chunks 20 ms late at p99 on one core, so it could not judge a 1 ms
 * target.
 *
 * <pre>
 * java -cp bench/target/benchmarks.jar keyguard.bench.SseChunkLatency --upstream-port 18401 \
 *      --gateway http://127.0.0.1:18103 --key kg-… --model sse-model --streams 40 --chunks 100 --gap-ms 5
 * </pre>
 * With {@code --gateway} absent it only serves the upstream (for the gateway to start on).
 * With {@code --concurrent} all streams run at once: warm-up passes ({@code -Dsse.warmups},
 * 10), then {@code -Dsse.pairs} (5) measured passes of each path, direct and through the
 * gateway alternating, reported pass by pass and all together; {@code -Dsse.slow.us=N}
 * adds when each pass's chunks later than N µs were written.
 */
public final class SseChunkLatency {
    private SseChunkLatency() {}

    public static void main(String[] args) throws Exception {
        int upstreamPort = 18401;
        String gateway = null;
        String key = "";
        String model = "sse-model";
        int streams = 40;
        int chunks = 100;
        int gapMs = 5;
        boolean concurrent = false;
        for (int i = 0; i < args.length; i += 2) {
            switch (args[i]) {
                case "--upstream-port" -> upstreamPort = Integer.parseInt(args[i + 1]);
                case "--gateway" -> gateway = args[i + 1];
                case "--key" -> key = args[i + 1];
                case "--model" -> model = args[i + 1];
                case "--streams" -> streams = Integer.parseInt(args[i + 1]);
                case "--chunks" -> chunks = Integer.parseInt(args[i + 1]);
                case "--gap-ms" -> gapMs = Integer.parseInt(args[i + 1]);
                case "--concurrent" -> {
                    concurrent = true;
                    i--;
                }
                default -> throw new IllegalArgumentException("unknown option " + args[i]);
            }
        }
        int n = chunks;
        int gap = gapMs;
        SseUpstream upstream = SseUpstream.start(upstreamPort, n, gap);
        if (gateway == null) {
            Thread.currentThread().join();
            return;
        }
        if (concurrent) {
            // Warm-up passes at the measured load: the gateway's relay path is compiled by the JIT
            // only after a few thousand chunks, and a compile on the gateway's one core delays
            // chunks by a scheduler slice (milliseconds) while it runs. C2 still compiles parts of
            // the streaming path (its settle, the connection's close) after three passes.
            for (int w = 0; w < 3; w++) concurrently("http://127.0.0.1:" + upstreamPort, "", model, streams);
            int warmups = Integer.getInteger("sse.warmups", 10);
            for (int w = 0; w < warmups; w++) concurrently(gateway, key, model, streams);
            // Then measured passes in pairs, direct then through the gateway: one pass is a second
            // of chunks, and one pause of this machine (a stall with nothing in the gateway's GC,
            // safepoint or JIT log) decided a single pass's p99. The pairs put both paths in the
            // same stretch of the machine's time; the verdict is on all passes' chunks together.
            int pairs = Integer.getInteger("sse.pairs", 5);
            Passes direct = new Passes("direct", streams);
            Passes through = new Passes("keyguard", streams);
            for (int i = 0; i < pairs; i++) {
                SseReaders.Result d = concurrently("http://127.0.0.1:" + upstreamPort, "", model, streams);
                SseReaders.Result k = concurrently(gateway, key, model, streams);
                direct.add(d);
                through.add(k);
                System.out.printf(java.util.Locale.ROOT, "pass %d: direct p99 %7.1f us, keyguard p99 %7.1f us (p50 %6.1f), added p99 %+8.1f us, failed streams %d%n",
                        i + 1, d.delays().getValueAtPercentile(99) / 1e3, k.delays().getValueAtPercentile(99) / 1e3,
                        k.delays().getValueAtPercentile(50) / 1e3, (k.delays().getValueAtPercentile(99) - d.delays().getValueAtPercentile(99)) / 1e3,
                        k.failed());
                SseReaders.printSlow();
            }
            direct.print();
            through.print();
        } else {
            measure("direct", "http://127.0.0.1:" + upstreamPort, "", model, streams, 1);
            measure("direct", "http://127.0.0.1:" + upstreamPort, "", model, streams, 0);
            measure("keyguard", gateway, key, model, streams, 1);
            measure("keyguard", gateway, key, model, streams, 0);
        }
        upstream.close();
        System.exit(0);
    }

    /** Runs {@code streams} streams one after another; prints the chunk delays unless warming up. */
    private static void measure(String label, String base, String key, String model, int streams, int warm) throws Exception {
        Histogram h = new Histogram(TimeUnit.SECONDS.toNanos(10), 3);
        java.net.URI u = java.net.URI.create(base);
        String body = "{\"model\":\"" + model + "\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"go\"}]}";
        for (int s = 0; s < streams; s++) {
            try (Socket socket = new Socket(u.getHost(), u.getPort())) {
                socket.setTcpNoDelay(true);
                String req = "POST /v1/chat/completions HTTP/1.1\r\nHost: " + u.getHost() + "\r\n"
                        + (key.isEmpty() ? "" : "Authorization: Bearer " + key + "\r\n")
                        + "Content-Type: application/json\r\nContent-Length: " + body.getBytes(StandardCharsets.UTF_8).length + "\r\nConnection: close\r\n\r\n" + body;
                socket.getOutputStream().write(req.getBytes(StandardCharsets.UTF_8));
                BufferedReader in = new BufferedReader(new InputStreamReader(socket.getInputStream(), StandardCharsets.UTF_8));
                for (String line = in.readLine(); line != null; line = in.readLine()) {
                    int at = line.indexOf("\"content\":\"");
                    if (!line.startsWith("data: ") || at < 0) continue;
                    long now = System.nanoTime();
                    String v = line.substring(at + 11, line.indexOf('"', at + 11));
                    if (v.isEmpty() || !Character.isDigit(v.charAt(0))) continue;
                    h.recordValue(Math.max(0, now - Long.parseLong(v)));
                }
            }
        }
        if (warm == 0) {
            System.out.printf("%-9s chunks %6d  p50 %7.1f  p90 %7.1f  p99 %7.1f  p99.9 %7.1f  max %8.1f us%n", label, h.getTotalCount(),
                    h.getValueAtPercentile(50) / 1e3, h.getValueAtPercentile(90) / 1e3, h.getValueAtPercentile(99) / 1e3,
                    h.getValueAtPercentile(99.9) / 1e3, h.getMaxValue() / 1e3);
        }
    }

    /**
     * All {@code streams} at once, read by one selector thread ({@link SseReaders}): every
     * chunk's delay from the upstream's write to the reader, and every stream that did not
     * answer 200 (a 503 from a full connection pool, say).
     */
    private static SseReaders.Result concurrently(String base, String key, String model, int streams) throws Exception {
        java.net.URI u = java.net.URI.create(base);
        String body = "{\"model\":\"" + model + "\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"go\"}]}";
        String req = "POST /v1/chat/completions HTTP/1.1\r\nHost: " + u.getHost() + "\r\n"
                + (key.isEmpty() ? "" : "Authorization: Bearer " + key + "\r\n")
                + "Content-Type: application/json\r\nContent-Length: " + body.getBytes(StandardCharsets.UTF_8).length
                + "\r\nConnection: close\r\n\r\n" + body;
        return SseReaders.run(new InetSocketAddress(u.getHost(), u.getPort()), req.getBytes(StandardCharsets.UTF_8), streams,
                TimeUnit.MINUTES.toNanos(5));
    }

    /** The measured passes of one path, their chunks together. */
    private static final class Passes {
        final String label;
        final int streams;
        final Histogram delays = new Histogram(TimeUnit.SECONDS.toNanos(10), 3);
        final Histogram firsts = new Histogram(TimeUnit.SECONDS.toNanos(10), 3);
        final Histogram steady = new Histogram(TimeUnit.SECONDS.toNanos(10), 3);
        long failed;
        int passes;

        Passes(String label, int streams) {
            this.label = label;
            this.streams = streams;
        }

        void add(SseReaders.Result r) {
            delays.add(r.delays());
            firsts.add(r.firsts());
            steady.add(r.steady());
            failed += r.failed();
            passes++;
        }

        void print() {
            Histogram h = delays;
            System.out.printf("%-9s %d concurrent streams, %d passes, chunks %6d, failed streams %d  p50 %7.1f  p90 %7.1f  p99 %7.1f  p99.9 %7.1f  max %8.1f us%n",
                    label, streams, passes, h.getTotalCount(), failed, h.getValueAtPercentile(50) / 1e3, h.getValueAtPercentile(90) / 1e3,
                    h.getValueAtPercentile(99) / 1e3, h.getValueAtPercentile(99.9) / 1e3, h.getMaxValue() / 1e3);
            System.out.printf(java.util.Locale.ROOT, "RESULT sse-%s %d %d %d %.1f %.1f %.1f %.1f %.1f%n", label, streams, h.getTotalCount(), failed,
                    h.getValueAtPercentile(50) / 1e3, h.getValueAtPercentile(90) / 1e3, h.getValueAtPercentile(99) / 1e3,
                    h.getValueAtPercentile(99.9) / 1e3, h.getMaxValue() / 1e3);
            System.out.printf("%-9s   first chunk of each stream (%d): p50 %7.1f  p90 %7.1f  p99 %7.1f  max %8.1f us%n", label, firsts.getTotalCount(),
                    firsts.getValueAtPercentile(50) / 1e3, firsts.getValueAtPercentile(90) / 1e3, firsts.getValueAtPercentile(99) / 1e3,
                    firsts.getMaxValue() / 1e3);
            System.out.printf("%-9s   chunks %d on of each stream (%d): p50 %7.1f  p90 %7.1f  p99 %7.1f  p99.9 %7.1f  max %8.1f us%n", label,
                    SseReaders.STEADY_FROM + 1, steady.getTotalCount(), steady.getValueAtPercentile(50) / 1e3, steady.getValueAtPercentile(90) / 1e3,
                    steady.getValueAtPercentile(99) / 1e3, steady.getValueAtPercentile(99.9) / 1e3, steady.getMaxValue() / 1e3);
        }
    }

}
