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
 *      --warmup 10 --duration 30 --connections 64 [--closed] [--stream] [--body-file req.json] --hlog out.hlog
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
        List<Thread> threads = new ArrayList<>();
        for (int c = 0; c < connections; c++) {
            Thread t = Thread.ofPlatform().daemon().start(() -> {
                Socket s = null;
                InputStream in = null;
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
                            int status = readResponse(in);
                            long latency = System.nanoTime() - due;
                            if (status != 200) errors.incrementAndGet();
                            if (due >= warmEnd) {
                                recorder.recordValue(Math.min(latency, TimeUnit.SECONDS.toNanos(60)));
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

    /** Reads one response (Content-Length or chunked); returns its status. */
    static int readResponse(InputStream in) throws IOException {
        String statusLine = line(in);
        if (statusLine == null) throw new IOException("connection closed");
        int status = Integer.parseInt(statusLine.substring(9, 12));
        long length = -1;
        boolean chunked = false;
        for (String h = line(in); h != null && !h.isEmpty(); h = line(in)) {
            int colon = h.indexOf(':');
            if (colon < 0) continue;
            String name = h.substring(0, colon).trim();
            String value = h.substring(colon + 1).trim();
            if (name.equalsIgnoreCase("content-length")) length = Long.parseLong(value);
            if (name.equalsIgnoreCase("transfer-encoding") && value.equalsIgnoreCase("chunked")) chunked = true;
        }
        if (chunked) {
            while (true) {
                long size = Long.parseLong(line(in).split(";")[0].trim(), 16);
                if (size == 0) {
                    line(in);
                    break;
                }
                skip(in, size);
                line(in);
            }
        } else if (length > 0) {
            skip(in, length);
        }
        return status;
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

    private static String line(InputStream in) throws IOException {
        StringBuilder sb = new StringBuilder();
        int c;
        while ((c = in.read()) >= 0) {
            if (c == '\n') {
                int len = sb.length();
                if (len > 0 && sb.charAt(len - 1) == '\r') sb.setLength(len - 1);
                return sb.toString();
            }
            sb.append((char) c);
        }
        return sb.isEmpty() ? null : sb.toString();
    }

}
