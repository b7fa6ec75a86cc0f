package keyguard.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import org.junit.jupiter.api.Test;

class AsyncLogHandlerTest {
    private static LogRecord record(Level level, String message) {
        LogRecord r = new LogRecord(level, message);
        r.setLoggerName("keyguard.access");
        return r;
    }

    @Test
    void everyLineIsWrittenInOrderInTheGatewaysFormat() {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        AsyncLogHandler h = new AsyncLogHandler(out, 10_000);
        h.setFormatter(new LogFormat());
        for (int i = 0; i < 5_000; i++) h.publish(record(Level.INFO, "line " + i));
        h.close();
        List<String> lines = out.toString(StandardCharsets.UTF_8).lines().toList();
        assertEquals(5_000, lines.size());
        for (int i = 0; i < lines.size(); i++) {
            assertTrue(lines.get(i).endsWith(" INFO keyguard.access: line " + i), lines.get(i));
        }
    }

    @Test
    void aRecordWithoutAMessageKeepsItsLevelLoggerAndStackTrace() {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        AsyncLogHandler h = new AsyncLogHandler(out, 100);
        h.setFormatter(new LogFormat());
        LogRecord r = record(Level.WARNING, null);
        r.setThrown(new IllegalStateException("the cause"));
        h.publish(r);
        h.close();
        String text = out.toString(StandardCharsets.UTF_8);
        assertTrue(text.contains(" WARNING keyguard.access: null"), text);
        assertTrue(text.contains("java.lang.IllegalStateException: the cause"), text);
    }

    @Test
    void aStuckOutputNeverBlocksTheLoggerAndTheDroppedLinesAreCounted() throws Exception {
        CountDownLatch unstick = new CountDownLatch(1);
        ByteArrayOutputStream sink = new ByteArrayOutputStream();
        OutputStream stuck = new OutputStream() {
            @Override
            public void write(int b) throws IOException { write(new byte[] {(byte) b}, 0, 1); }

            @Override
            public synchronized void write(byte[] b, int off, int len) throws IOException {
                try {
                    if (!unstick.await(30, TimeUnit.SECONDS)) throw new IOException("never unstuck");
                } catch (InterruptedException e) {
                    throw new IOException(e);
                }
                sink.write(b, off, len);
            }
        };
        AsyncLogHandler h = new AsyncLogHandler(stuck, 100);
        h.setFormatter(new LogFormat());
        long start = System.nanoTime();
        for (int i = 0; i < 1_000; i++) h.publish(record(Level.INFO, "line " + i));
        long tookMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
        assertTrue(tookMillis < 10_000, "1,000 lines into a full queue returned at once, not after the output: " + tookMillis + " ms");
        unstick.countDown();
        h.flush(); // the queue empties once the output moves again
        h.publish(record(Level.INFO, "after"));
        h.close();
        String text = sink.toString(StandardCharsets.UTF_8);
        assertTrue(text.contains("log line(s) dropped: the log output did not keep up"), text);
        assertTrue(text.contains("keyguard.access: after"), text);
        long kept = text.lines().filter(l -> l.contains("keyguard.access: line ")).count();
        assertTrue(kept >= 100 && kept < 1_000, "the queue's worth of lines was kept, the rest dropped: " + kept);
    }

    @Test
    void aSevereRecordIsOnTheOutputWhenPublishReturns() {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        AsyncLogHandler h = new AsyncLogHandler(out, 100);
        h.setFormatter(new LogFormat());
        h.publish(record(Level.SEVERE, "the audit log cannot be written"));
        String text;
        synchronized (out) {
            text = out.toString(StandardCharsets.UTF_8);
        }
        assertTrue(text.contains("SEVERE keyguard.access: the audit log cannot be written"), text);
        h.close();
    }
}
