package keyguard.cli;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;

/**
 * The log handler of {@code keyguard serve}: a record is formatted on the thread that logs
 * it (an IO thread, for the access line of every request) and written by this handler's
 * own thread, many lines per {@code write}, so a request never waits for the terminal or
 * the log file. The console handler it replaces wrote and flushed every line on the
 * request's thread: one system call per request.
 *
 * <p>Invariants: the queue is bounded; a line that does not fit is counted and dropped
 * (never blocks the caller), and the count is written as its own line once there is room;
 * lines are written in the order they were queued; a {@code SEVERE} record is on the output
 * before {@code publish} returns (waited for up to a second), and
 * {@link #close} writes everything queued.
 */
final class AsyncLogHandler extends Handler {
    private final ArrayBlockingQueue<String> queue;
    private final OutputStream out;
    private final AtomicLong dropped = new AtomicLong();
    /** Lines written so far, by the writer thread; with {@link #queued}, tells when a given line is out. */
    private final AtomicLong written = new AtomicLong();
    private final AtomicLong queued = new AtomicLong();
    private final Thread writer;
    private volatile boolean closed;
    /**
     * How long lines wait, at most, before they are written. Each wake-up of the writer
     * costs about 0.1 ms of CPU on a quiet core whatever it writes: at 20 ms that was
     * 3% of the gateway's CPU at 1,000 requests/s (docs/benchmarks.md).
     */
    static final long PERIOD_MILLIS = 100;

    AsyncLogHandler(OutputStream out, int capacity) {
        this.out = out;
        this.queue = new ArrayBlockingQueue<>(capacity);
        this.writer = Thread.ofPlatform().name("keyguard-log-writer").daemon().start(this::drain);
    }

    @Override
    public void publish(LogRecord r) {
        if (closed || !isLoggable(r)) return;
        String line;
        try {
            line = getFormatter().format(r);
        } catch (RuntimeException e) {
            line = "log record could not be formatted: " + e + System.lineSeparator();
        }
        long ticket;
        synchronized (this) { // the ticket and the queue position agree
            if (!queue.offer(line)) {
                dropped.incrementAndGet();
                return;
            }
            ticket = queued.incrementAndGet();
        }
        if (r.getLevel().intValue() >= Level.SEVERE.intValue()) awaitWritten(ticket, TimeUnit.SECONDS.toNanos(1));
    }

    /**
     * Writes what is queued every {@link #PERIOD_MILLIS} (at once when a severe record or
     * {@link #flush} asks): the writer is never woken per line, which cost a futex wake-up
     * and a write per request when it waited on the queue.
     */
    private void drain() {
        List<String> batch = new ArrayList<>(1024);
        ByteArrayOutputStream bytes = new ByteArrayOutputStream(64 * 1024);
        while (!closed || !queue.isEmpty()) {
            try {
                if (queue.isEmpty()) {
                    java.util.concurrent.locks.LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(PERIOD_MILLIS));
                    if (Thread.interrupted() && closed) return;
                    continue;
                }
                queue.drainTo(batch, 4096);
                for (String line : batch) bytes.writeBytes(line.getBytes(StandardCharsets.UTF_8));
                long lost = dropped.getAndSet(0);
                if (lost > 0) {
                    bytes.writeBytes(("keyguard: " + lost + " log line(s) dropped: the log output did not keep up" + System.lineSeparator())
                            .getBytes(StandardCharsets.UTF_8));
                }
                bytes.writeTo(out);
                out.flush();
            } catch (IOException e) {
                reportError("log output failed", e, java.util.logging.ErrorManager.WRITE_FAILURE);
            } finally {
                written.addAndGet(batch.size());
                batch.clear();
                bytes.reset();
            }
        }
    }

    private void awaitWritten(long ticket, long nanos) {
        java.util.concurrent.locks.LockSupport.unpark(writer);
        long deadline = System.nanoTime() + nanos;
        while (written.get() < ticket && System.nanoTime() < deadline && writer.isAlive()) {
            java.util.concurrent.locks.LockSupport.parkNanos(100_000);
        }
    }

    /** Waits (up to two seconds) until every line queued so far is written. */
    @Override
    public void flush() {
        awaitWritten(queued.get(), TimeUnit.SECONDS.toNanos(2));
    }

    @Override
    public void close() {
        flush();
        closed = true;
        java.util.concurrent.locks.LockSupport.unpark(writer);
        try {
            writer.join(2000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Replaces the root logger's console handler with one of these on standard error, keeping its level and the gateway's line format. */
    static void install() {
        java.util.logging.Logger root = java.util.logging.Logger.getLogger("");
        AsyncLogHandler h = new AsyncLogHandler(new java.io.FileOutputStream(java.io.FileDescriptor.err), 65_536);
        h.setFormatter(new LogFormat());
        for (Handler old : root.getHandlers()) {
            if (old instanceof java.util.logging.ConsoleHandler) {
                h.setLevel(old.getLevel());
                root.removeHandler(old);
                old.close();
            }
        }
        root.addHandler(h);
    }
}
