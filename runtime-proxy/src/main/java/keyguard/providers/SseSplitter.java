package keyguard.providers;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Cuts a byte stream into server-sent events at blank lines, across network chunk
 * boundaries (and across multi-byte UTF-8 characters). Each event is returned with its
 * terminating blank line, exactly as received, so it can be forwarded unchanged.
 */
final class SseSplitter {
    /**
     * The most an event may hold before its blank line (a stream's events are deltas of a few
     * hundred bytes): an upstream that sends more without one is broken, and is cut rather
     * than buffered without end.
     */
    static final int MAX_EVENT = 4 << 20;

    private byte[] buf = new byte[8192];
    private int len;
    /** Bytes of {@code buf} already looked at for a blank line: each byte is looked at once, however the event arrives. */
    private int scanned;

    /** A stream whose event grew past {@link #MAX_EVENT} without ending. */
    static final class EventTooLarge extends RuntimeException {
        EventTooLarge() {
            super("an SSE event longer than " + MAX_EVENT + " bytes", null, false, false);
        }
    }

    /** The events completed by {@code chunks}; throws {@link EventTooLarge} when the one in progress passes the cap. */
    List<String> feed(List<ByteBuffer> chunks) {
        for (ByteBuffer b : chunks) {
            int n = b.remaining();
            if (len + n > MAX_EVENT + 4L) throw new EventTooLarge();
            if (len + n > buf.length) buf = Arrays.copyOf(buf, Math.max(buf.length * 2, len + n));
            b.get(buf, len, n);
            len += n;
        }
        List<String> events = new ArrayList<>();
        int start = 0;
        // A blank line may straddle the last feed: look again at its last three bytes, never further back.
        for (int i = Math.max(0, scanned - 3); i < len; i++) {
            int end = -1;
            if (buf[i] == '\n' && i + 1 < len && buf[i + 1] == '\n') end = i + 2;
            else if (buf[i] == '\r' && i + 3 < len && buf[i + 1] == '\n' && buf[i + 2] == '\r' && buf[i + 3] == '\n') end = i + 4;
            if (end > 0) {
                events.add(new String(buf, start, end - start, StandardCharsets.UTF_8));
                start = end;
                i = end - 1;
            }
        }
        System.arraycopy(buf, start, buf, 0, len - start);
        len -= start;
        scanned = len;
        return events;
    }

    /** Whatever is left when the stream ends without a final blank line. */
    String rest() {
        String s = new String(buf, 0, len, StandardCharsets.UTF_8);
        len = 0;
        scanned = 0;
        return s;
    }

    /** The {@code data:} payload of an event (lines joined with newlines), or "" when none. Runs per event: no regex. */
    static String data(String event) {
        StringBuilder sb = null;
        int from = 0;
        while (from < event.length()) {
            int nl = event.indexOf('\n', from);
            int end = nl < 0 ? event.length() : nl;
            int lineEnd = end > from && event.charAt(end - 1) == '\r' ? end - 1 : end;
            if (event.startsWith("data:", from)) {
                int start = from + (event.startsWith("data: ", from) ? 6 : 5);
                // The usual event has one data line: its payload is one substring, with no builder to copy from.
                if (sb == null && event.indexOf("\ndata:", end) < 0) return event.substring(start, Math.max(start, lineEnd));
                if (sb == null) sb = new StringBuilder(lineEnd - start);
                else sb.append('\n');
                sb.append(event, start, Math.max(start, lineEnd));
            }
            from = end + 1;
        }
        return sb == null ? "" : sb.toString();
    }
}
