package keyguard.bench;

import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.io.FileOutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import org.HdrHistogram.Histogram;
import org.HdrHistogram.HistogramLogWriter;
import org.HdrHistogram.Recorder;

/**
 * An open-loop HTTP/1.1 load generator: request {@code i} is due at {@code start + i/rate},
 * whatever happened to earlier requests, and its latency is measured from that scheduled
 * time (so a stall is charged to every request it delayed: no coordinated omission).
 * Keep-alive connections, each owned by one thread that takes the next due slot; with
 * enough connections a slow response delays no one else's send.
 *
 * <p>{@code --closed} turns it into a closed loop for maximum throughput: every connection
 * sends its next request as soon as the previous response ends, and latency is measured
 * from the send. {@code --stream} asks for an SSE stream (the response is read to its end).
 *
 * <pre>
 * java -cp bench/target/benchmarks.jar keyguard.bench.OpenLoopLoad \
 *      --url http://127.0.0.1:8080/v1/chat/completions --key kg-… --rate 1000 \
 *      --warmup 10 --duration 30 --connections 64 [--closed] [--stream] [--body-file req.json] --hlog out.hlog \
 *      [--slow-us 3000 --timeline slow.txt]
 * </pre>
 * Prints a line for people (achieved rate, errors, p50/p90/p99/p99.9/max in microseconds)
 * and a {@code RESULT} line of the same numbers for scripts; writes the histogram as an
 * HdrHistogram log so others can recompute any percentile.
 */
public final class OpenLoopLoad {
    private OpenLoopLoad() {}

    public static void main(String[] args) throws Exception {
        String url = "http://127.0.0.1:8080/v1/chat/completions";
        String key = "";
        String label = "";
        String hlog = null;
        long slowNanos = 0;
        String timeline = null;
        String body = "{\"model\":\"bench-model\",\"max_tokens\":16,\"messages\":[{\"role\":\"user\",\"content\":\"Say hello to the benchmark.\"}]}";
        int rate = 1000;
        int warmup = 10;
        int duration = 30;
        int connections = 64;
        boolean closed = false;
        boolean stream = false;
        for (int i = 0; i < args.length; i += 2) {
            switch (args[i]) {
                case "--closed" -> {
                    closed = true;
                    i--;
                }
                case "--stream" -> {
                    stream = true;
                    i--;
                }
                case "--body-file" -> body = java.nio.file.Files.readString(java.nio.file.Path.of(args[i + 1]));
                case "--url" -> url = args[i + 1];
                case "--key" -> key = args[i + 1];
                case "--rate" -> rate = Integer.parseInt(args[i + 1]);
                case "--warmup" -> warmup = Integer.parseInt(args[i + 1]);
                case "--duration" -> duration = Integer.parseInt(args[i + 1]);
                case "--connections" -> connections = Integer.parseInt(args[i + 1]);
                case "--body" -> body = args[i + 1];
                case "--label" -> label = args[i + 1];
                case "--hlog" -> hlog = args[i + 1];
                case "--slow-us" -> slowNanos = Long.parseLong(args[i + 1]) * 1000;
                case "--timeline" -> timeline = args[i + 1];
                default -> throw new IllegalArgumentException("unknown option " + args[i]);
            }
        }
        if (stream) body = body.replaceFirst("^\\{", "{\"stream\":true,");
        java.net.URI u = java.net.URI.create(url);
        byte[] bodyBytes = body.getBytes(StandardCharsets.UTF_8);
        byte[] request = ("POST " + u.getRawPath() + " HTTP/1.1\r\nHost: " + u.getHost() + ":" + u.getPort() + "\r\n"
                + (key.isEmpty() ? "" : "Authorization: Bearer " + key + "\r\n")
                + "Content-Type: application/json\r\nContent-Length: " + bodyBytes.length + "\r\n\r\n" + body).getBytes(StandardCharsets.UTF_8);

        Recorder recorder = new Recorder(TimeUnit.SECONDS.toNanos(60), 3);
        AtomicLong next = new AtomicLong();
        AtomicLong errors = new AtomicLong();
        AtomicLong completed = new AtomicLong();
        long intervalNanos = closed ? 0 : 1_000_000_000L / rate;
        boolean closedLoop = closed;
        long start = System.nanoTime() + 200_000_000L;
        long warmEnd = start + TimeUnit.SECONDS.toNanos(warmup);
        long end = warmEnd + TimeUnit.SECONDS.toNanos(duration);
        // --timeline: per second of the measured window (by send time), how many requests took
        // longer than --slow-us and the slowest of them, to line the tail up with the gateway's
        // GC log.
        java.util.concurrent.atomic.AtomicLongArray slowCount = new java.util.concurrent.atomic.AtomicLongArray(duration + 1);
        java.util.concurrent.atomic.AtomicLongArray slowMax = new java.util.concurrent.atomic.AtomicLongArray(duration + 1);
        long slowThreshold = slowNanos;
        int measuredSeconds = duration;
        long wallAtWarmEnd = System.currentTimeMillis() + (warmEnd - System.nanoTime()) / 1_000_000;
        List<Thread> threads = new ArrayList<>();
        for (int c = 0; c < connections; c++) {
            Thread t = Thread.ofPlatform().daemon().start(() -> {
                Socket s = null;
                InputStream in = null;
                byte[] line = new byte[16 * 1024];
                try {
                    while (true) {
                        long due;
                        if (closedLoop) { // the next request goes out now: measured from its send
                            long now;
                            while ((now = System.nanoTime()) < start) LockSupport.parkNanos(start - now);
                            due = now;
                        } else {
                            due = start + next.getAndIncrement() * intervalNanos;
                        }
                        if (due >= end) return;
                        long wait;
                        while ((wait = due - System.nanoTime()) > 0) LockSupport.parkNanos(wait);
                        try {
                            if (s == null) {
                                s = connect(u);
                                in = new BufferedInputStream(s.getInputStream(), 1 << 16);
                            }
                            s.getOutputStream().write(request);
                            int status = readResponse(in, line);
                            long latency = System.nanoTime() - due;
                            if (status != 200) errors.incrementAndGet();
                            if (due >= warmEnd) {
                                recorder.recordValue(Math.min(latency, TimeUnit.SECONDS.toNanos(60)));
                                if (slowThreshold > 0 && latency > slowThreshold) {
                                    int sec = (int) Math.min(measuredSeconds, (due - warmEnd) / 1_000_000_000L);
                                    slowCount.incrementAndGet(sec);
                                    slowMax.accumulateAndGet(sec, latency, Math::max);
                                }
                                completed.incrementAndGet();
                            }
                        } catch (IOException e) {
                            errors.incrementAndGet();
                            if (s != null) try { s.close(); } catch (IOException ignored) { }
                            s = null;
                        }
                    }
                } finally {
                    if (s != null) try { s.close(); } catch (IOException ignored) { }
                }
            });
            threads.add(t);
        }
        for (Thread t : threads) t.join();
        Histogram h = recorder.getIntervalHistogram();
        double seconds = (end - warmEnd) / 1e9;
        if (hlog != null) {
            try (PrintStream out = new PrintStream(new FileOutputStream(hlog))) {
                HistogramLogWriter w = new HistogramLogWriter(out);
                w.outputLogFormatVersion();
                w.outputLegend();
                w.outputIntervalHistogram(h);
            }
        }
        if (timeline != null) {
            try (PrintStream out = new PrintStream(new FileOutputStream(timeline))) {
                for (int sec = 0; sec <= duration; sec++) {
                    if (slowCount.get(sec) > 0) out.printf("%d %d %d%n", wallAtWarmEnd / 1000 + sec, slowCount.get(sec), slowMax.get(sec) / 1000);
                }
            }
        }
        String target = closed ? "closed" : Integer.toString(rate);
        System.out.printf("%-10s rate %6s/s achieved %8.1f/s errors %d  p50 %7.1f  p90 %7.1f  p99 %7.1f  p99.9 %8.1f  max %8.1f us%n",
                label, target, completed.get() / seconds, errors.get(), h.getValueAtPercentile(50) / 1e3, h.getValueAtPercentile(90) / 1e3,
                h.getValueAtPercentile(99) / 1e3, h.getValueAtPercentile(99.9) / 1e3, h.getMaxValue() / 1e3);
        System.out.printf(java.util.Locale.ROOT, "RESULT %s %s %.1f %d %.1f %.1f %.1f %.1f %.1f%n", label, target, completed.get() / seconds, errors.get(),
                h.getValueAtPercentile(50) / 1e3, h.getValueAtPercentile(90) / 1e3, h.getValueAtPercentile(99) / 1e3,
                h.getValueAtPercentile(99.9) / 1e3, h.getMaxValue() / 1e3);
    }

    private static Socket connect(java.net.URI u) throws IOException {
        Socket s = new Socket();
        s.setTcpNoDelay(true);
        s.connect(new InetSocketAddress(u.getHost(), u.getPort()), 2000);
        s.setSoTimeout(30_000);
        return s;
    }

    /**
     * Reads one response (Content-Length or chunked); returns its status. Allocates nothing:
     * each line is read into {@code line} (one buffer per connection) and the header names
     * that matter are compared as bytes. (It built a String per header line, about 5 KB per
     * response: the generator's young collections, 50-70 ms on its shared core, were in
     * the latency it reported for the gateway.)
     */
    static int readResponse(InputStream in, byte[] line) throws IOException {
        int n = line(in, line);
        if (n < 0) throw new IOException("connection closed");
        if (n < 12) throw new IOException("bad status line");
        int status = (line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0');
        long length = -1;
        boolean chunked = false;
        while ((n = line(in, line)) > 0) {
            if (startsWithIgnoreCase(line, n, CONTENT_LENGTH)) length = number(line, CONTENT_LENGTH.length, n, 10);
            else if (startsWithIgnoreCase(line, n, TRANSFER_ENCODING) && containsIgnoreCase(line, n, CHUNKED)) chunked = true;
        }
        if (chunked) {
            while (true) {
                n = line(in, line);
                if (n < 0) throw new IOException("closed mid-body");
                long size = number(line, 0, n, 16);
                if (size == 0) {
                    line(in, line);
                    break;
                }
                skip(in, size);
                line(in, line);
            }
        } else if (length > 0) {
            skip(in, length);
        }
        return status;
    }

    private static final byte[] CONTENT_LENGTH = "content-length:".getBytes(StandardCharsets.US_ASCII);
    private static final byte[] TRANSFER_ENCODING = "transfer-encoding:".getBytes(StandardCharsets.US_ASCII);
    private static final byte[] CHUNKED = "chunked".getBytes(StandardCharsets.US_ASCII);

    private static boolean startsWithIgnoreCase(byte[] b, int n, byte[] lower) {
        if (n < lower.length) return false;
        for (int i = 0; i < lower.length; i++) if (Character.toLowerCase(b[i]) != lower[i]) return false;
        return true;
    }

    private static boolean containsIgnoreCase(byte[] b, int n, byte[] lower) {
        outer:
        for (int at = 0; at + lower.length <= n; at++) {
            for (int i = 0; i < lower.length; i++) if (Character.toLowerCase(b[at + i]) != lower[i]) continue outer;
            return true;
        }
        return false;
    }

    /** The number in {@code b[from, to)} (spaces skipped; it ends at the first other character, e.g. a chunk extension's ';'). */
    private static long number(byte[] b, int from, int to, int radix) throws IOException {
        int i = from;
        while (i < to && b[i] == ' ') i++;
        long v = 0;
        int digits = 0;
        for (; i < to; i++, digits++) {
            int d = Character.digit(b[i], radix);
            if (d < 0) break;
            v = v * radix + d;
        }
        if (digits == 0) throw new IOException("not a number in a response line");
        return v;
    }

    private static void skip(InputStream in, long n) throws IOException {
        while (n > 0) {
            long k = in.skip(n);
            if (k <= 0) {
                if (in.read() < 0) throw new IOException("closed mid-body");
                k = 1;
            }
            n -= k;
        }
    }

    /** Reads a line into {@code buf} without its CR LF; returns its length, -1 at the end of the stream. */
    private static int line(InputStream in, byte[] buf) throws IOException {
        int n = 0;
        int c;
        while ((c = in.read()) >= 0) {
            if (c == '\n') return n > 0 && buf[n - 1] == '\r' ? n - 1 : n;
            if (n == buf.length) throw new IOException("response line over " + buf.length + " bytes");
            buf[n++] = (byte) c;
        }
        return n == 0 ? -1 : n;
    }

}
