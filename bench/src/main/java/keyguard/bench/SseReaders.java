package keyguard.bench;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import org.HdrHistogram.Histogram;

/**
 * {@code n} SSE streams read at once by one selector thread (this one): each connection
 * sends {@code request} and reads until the server closes it; every chunk whose
 * {@code "content"} is a {@code System.nanoTime()} stamp is recorded as now minus the
 * stamp. A stream fails if its status is not 200, or it breaks, or the deadline passes.
 */
final class SseReaders {
    /**
     * {@code delays}: every chunk but each stream's first; {@code firsts}: each stream's first
     * chunk, which a gateway relays while it may still be admitting the other streams'
     * requests of the same burst (a time-to-first-token cost, reported on its own).
     */
    record Result(Histogram delays, Histogram firsts, Histogram steady, long failed) {
    }

    /** Chunks from this one on ({@code Result.steady}) come after every stream of a burst was admitted (at 20 ms apart, 100 ms in). */
    static final int STEADY_FROM = 5;

    private static final byte[] CONTENT = "\"content\":\"".getBytes(StandardCharsets.US_ASCII);

    /**
     * With {@code -Dsse.slow.us=N}, the slow chunks of the last {@link #run}: each 10 ms of
     * wall-clock time that held chunks later than N µs (count, worst), to set beside the
     * gateway's GC, safepoint and JIT logs ({@code -Xlog:…:time}).
     */
    private static final long SLOW_NANOS = Long.getLong("sse.slow.us", 0) * 1000;
    private static final java.util.TreeMap<Long, long[]> SLOW = new java.util.TreeMap<>();

    /** Prints the slow chunks of the last run. */
    static void printSlow() {
        if (SLOW_NANOS == 0) return;
        java.time.format.DateTimeFormatter f = java.time.format.DateTimeFormatter.ofPattern("HH:mm:ss.SSS").withZone(java.time.ZoneOffset.UTC);
        System.out.printf("chunks later than %d us, by the 10 ms in which the upstream wrote them (UTC start, count, worst us): %d windows%n", SLOW_NANOS / 1000, SLOW.size());
        SLOW.forEach((w, c) -> System.out.printf("  %s %d %d%n", f.format(java.time.Instant.ofEpochMilli(w * 10)), c[0], c[1] / 1000));
    }

    private static final class Stream {
        final ByteBuffer out;
        byte[] buf = new byte[16384];
        int len;
        boolean statusSeen;
        long stamps;

        Stream(byte[] request) { out = ByteBuffer.wrap(request); }
    }

    private SseReaders() {}

    static Result run(InetSocketAddress target, byte[] request, int n, long deadlineNanos) throws IOException {
        Histogram h = new Histogram(java.util.concurrent.TimeUnit.SECONDS.toNanos(10), 3);
        Histogram firsts = new Histogram(java.util.concurrent.TimeUnit.SECONDS.toNanos(10), 3);
        Histogram steady = new Histogram(java.util.concurrent.TimeUnit.SECONDS.toNanos(10), 3);
        long failed = 0;
        int open = 0;
        SLOW.clear();
        long end = System.nanoTime() + deadlineNanos;
        try (Selector selector = Selector.open()) {
            for (int i = 0; i < n; i++) {
                SocketChannel ch = SocketChannel.open();
                ch.configureBlocking(false);
                ch.socket().setTcpNoDelay(true);
                ch.connect(target);
                ch.register(selector, SelectionKey.OP_CONNECT, new Stream(request));
                open++;
            }
            ByteBuffer in = ByteBuffer.allocate(65536);
            while (open > 0 && System.nanoTime() < end) {
                selector.select(100);
                for (SelectionKey k : selector.selectedKeys()) {
                    Stream s = (Stream) k.attachment();
                    SocketChannel ch = (SocketChannel) k.channel();
                    try {
                        if (k.isConnectable()) {
                            ch.finishConnect();
                            k.interestOps(SelectionKey.OP_WRITE);
                        }
                        if (k.isValid() && k.isWritable()) {
                            ch.write(s.out);
                            if (!s.out.hasRemaining()) k.interestOps(SelectionKey.OP_READ);
                        }
                        if (k.isValid() && k.isReadable()) {
                            in.clear();
                            int r = ch.read(in);
                            long now = System.nanoTime();
                            if (r < 0) {
                                if (!s.statusSeen) failed++;
                                k.cancel();
                                ch.close();
                                open--;
                                continue;
                            }
                            if (s.len + r > s.buf.length) s.buf = java.util.Arrays.copyOf(s.buf, Math.max(s.buf.length * 2, s.len + r));
                            System.arraycopy(in.array(), 0, s.buf, s.len, r);
                            s.len += r;
                            if (!s.statusSeen && s.len >= 12) {
                                s.statusSeen = true;
                                if (!new String(s.buf, 0, 12, StandardCharsets.US_ASCII).equals("HTTP/1.1 200")) {
                                    failed++;
                                    k.cancel();
                                    ch.close();
                                    open--;
                                    continue;
                                }
                            }
                            s.len = stamps(s, now, h, firsts, steady);
                        }
                    } catch (IOException e) {
                        failed++;
                        k.cancel();
                        ch.close();
                        open--;
                    }
                }
                selector.selectedKeys().clear();
            }
            failed += open; // past the deadline
            for (SelectionKey k : selector.keys()) k.channel().close();
        }
        return new Result(h, firsts, steady, failed);
    }

    /**
     * Records every complete stamp in the stream's buffer (its first in {@code firsts}, the
     * others in {@code h}); returns the length of what is kept (from the last incomplete one).
     */
    private static int stamps(Stream s, long now, Histogram h, Histogram firsts, Histogram steady) {
        byte[] buf = s.buf;
        int len = s.len;
        int keep = 0;
        int i = 0;
        while (true) {
            int at = indexOf(buf, len, i);
            if (at < 0) {
                keep = Math.max(i, len - CONTENT.length); // a stamp's marker may be cut in two
                break;
            }
            int v = at + CONTENT.length;
            int e = v;
            while (e < len && buf[e] != '"') e++;
            if (e >= len) {
                keep = at;
                break;
            }
            if (e > v && buf[v] >= '0' && buf[v] <= '9') {
                long stamp = Long.parseLong(new String(buf, v, e - v, StandardCharsets.US_ASCII));
                long d = Math.min(Math.max(0, now - stamp), h.getHighestTrackableValue());
                if (SLOW_NANOS > 0 && d > SLOW_NANOS) {
                    long[] c = SLOW.computeIfAbsent((System.currentTimeMillis() - d / 1_000_000) / 10, x -> new long[2]);
                    c[0]++;
                    c[1] = Math.max(c[1], d);
                }
                if (s.stamps >= STEADY_FROM) steady.recordValue(d);
                (s.stamps++ == 0 ? firsts : h).recordValue(d);
            }
            i = e + 1;
        }
        keep = Math.max(0, Math.min(keep, len));
        System.arraycopy(buf, keep, buf, 0, len - keep);
        return len - keep;
    }

    private static int indexOf(byte[] buf, int len, int from) {
        outer:
        for (int i = from; i + CONTENT.length <= len; i++) {
            for (int j = 0; j < CONTENT.length; j++) if (buf[i + j] != CONTENT[j]) continue outer;
            return i;
        }
        return -1;
    }
}
