package keyguard.bench;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.PriorityQueue;
import java.util.concurrent.TimeUnit;

/**
 * An OpenAI-shaped streaming upstream on one selector thread: each request is answered
 * with {@code chunks} SSE chunks {@code gapMs} apart (chunked transfer encoding, kept
 * alive unless the request says {@code Connection: close}), each chunk carrying its
 * {@code System.nanoTime()} at the moment it is written. Streams are phased: the k-th
 * stream to arrive starts {@code k/16} of a gap later than the one before, modulo the gap,
 * so chunks fall due spread over time rather than in bursts.
 */
final class SseUpstream implements AutoCloseable {
    private final Selector selector;
    private final ServerSocketChannel server;
    private final Thread thread;
    private final int chunks;
    private final long gapNanos;
    private final PriorityQueue<Conn> due = new PriorityQueue<>((a, b) -> Long.compare(a.next, b.next));
    private int arrivals;
    private volatile boolean stop;

    /** One connection: reading a request, or streaming its answer. */
    private final class Conn {
        final SocketChannel ch;
        final ByteBuffer in = ByteBuffer.allocate(8192);
        final ArrayDeque<ByteBuffer> out = new ArrayDeque<>();
        int sent = -1; // chunks sent of the current answer; -1: reading a request
        long next;
        boolean close;

        Conn(SocketChannel ch) { this.ch = ch; }
    }

    private SseUpstream(int port, int chunks, int gapMs) throws IOException {
        this.chunks = chunks;
        this.gapNanos = TimeUnit.MILLISECONDS.toNanos(gapMs);
        selector = Selector.open();
        server = ServerSocketChannel.open().bind(new InetSocketAddress("127.0.0.1", port), 1024);
        server.configureBlocking(false);
        server.register(selector, SelectionKey.OP_ACCEPT);
        thread = Thread.ofPlatform().name("sse-upstream").daemon().start(this::loop);
    }

    static SseUpstream start(int port, int chunks, int gapMs) throws IOException {
        return new SseUpstream(port, chunks, gapMs);
    }

    private void loop() {
        try {
            while (!stop) {
                long now = System.nanoTime();
                while (!due.isEmpty() && due.peek().next <= now) {
                    Conn c = due.poll();
                    if (c.ch.isOpen()) emit(c);
                }
                // Never spin: the reader shares the core, and a spinning thread keeps it off for a
                // scheduler slice (4 ms at p90 in a first version). A chunk written up to a
                // millisecond late is stamped when written, so the measure is unaffected.
                long wait = due.isEmpty() ? 100 : Math.max(1, TimeUnit.NANOSECONDS.toMillis(due.peek().next - System.nanoTime()) + 1);
                selector.select(wait);
                for (SelectionKey k : selector.selectedKeys()) {
                    try {
                        if (!k.isValid()) continue;
                        if (k.isAcceptable()) {
                            SocketChannel ch = server.accept();
                            if (ch == null) continue;
                            ch.configureBlocking(false);
                            ch.socket().setTcpNoDelay(true);
                            ch.register(selector, SelectionKey.OP_READ, new Conn(ch));
                            continue;
                        }
                        Conn c = (Conn) k.attachment();
                        if (k.isReadable()) read(c, k);
                        if (k.isValid() && k.isWritable()) flush(c, k);
                    } catch (IOException e) {
                        k.cancel();
                        k.channel().close();
                    }
                }
                selector.selectedKeys().clear();
            }
        } catch (IOException e) {
            if (!stop) throw new IllegalStateException(e);
        }
    }

    private void read(Conn c, SelectionKey k) throws IOException {
        int n = c.ch.read(c.in);
        if (n < 0) {
            k.cancel();
            c.ch.close();
            return;
        }
        if (c.sent >= 0) {
            c.in.clear(); // nothing is expected while answering
            return;
        }
        String head = new String(c.in.array(), 0, c.in.position(), StandardCharsets.ISO_8859_1);
        int end = head.indexOf("\r\n\r\n");
        if (end < 0) return;
        String lower = head.substring(0, end).toLowerCase(java.util.Locale.ROOT);
        int at = lower.indexOf("content-length:");
        int length = at < 0 ? 0 : Integer.parseInt(lower.substring(at + 15, lower.indexOf("\r\n", at)).trim());
        if (c.in.position() < end + 4 + length) return;
        c.close = lower.contains("connection: close");
        c.in.clear();
        c.sent = 0;
        send(c, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n"
                + (c.close ? "Connection: close\r\n" : "") + "\r\n");
        c.next = System.nanoTime() + gapNanos / 16 * (arrivals++ % 16) + gapNanos;
        due.add(c);
    }

    private void emit(Conn c) throws IOException {
        if (c.sent < chunks) {
            chunk(c, "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,"
                    + "\"delta\":{\"content\":\"" + System.nanoTime() + "\"},\"finish_reason\":null}]}\n\n");
            c.sent++;
            c.next += gapNanos;
            due.add(c);
            return;
        }
        chunk(c, "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[],"
                + "\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":" + chunks + ",\"total_tokens\":" + (chunks + 5) + "}}\n\ndata: [DONE]\n\n");
        send(c, "0\r\n\r\n");
        c.sent = -1;
        if (c.close && c.out.isEmpty()) c.ch.close();
    }

    private void chunk(Conn c, String data) throws IOException {
        byte[] b = data.getBytes(StandardCharsets.UTF_8);
        send(c, Integer.toHexString(b.length) + "\r\n" + data + "\r\n");
    }

    private void send(Conn c, String s) throws IOException {
        c.out.add(ByteBuffer.wrap(s.getBytes(StandardCharsets.UTF_8)));
        flush(c, c.ch.keyFor(selector));
    }

    private void flush(Conn c, SelectionKey k) throws IOException {
        while (!c.out.isEmpty()) {
            ByteBuffer b = c.out.peek();
            c.ch.write(b);
            if (b.hasRemaining()) {
                k.interestOps(SelectionKey.OP_READ | SelectionKey.OP_WRITE);
                return;
            }
            c.out.poll();
        }
        k.interestOps(SelectionKey.OP_READ);
        if (c.close && c.sent < 0) c.ch.close();
    }

    @Override
    public void close() throws IOException {
        stop = true;
        selector.wakeup();
        try {
            thread.join(2000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        server.close();
        selector.close();
    }
}
