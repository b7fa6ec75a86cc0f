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
    private byte[] buf = new byte[8192];
    private int len;

    List<String> feed(List<ByteBuffer> chunks) {
        for (ByteBuffer b : chunks) {
            int n = b.remaining();
            if (len + n > buf.length) buf = Arrays.copyOf(buf, Math.max(buf.length * 2, len + n));
            b.get(buf, len, n);
            len += n;
        }
        List<String> events = new ArrayList<>();
        int start = 0;
        for (int i = 0; i < len; i++) {
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
        return events;
    }

    /** Whatever is left when the stream ends without a final blank line. */
    String rest() {
        String s = new String(buf, 0, len, StandardCharsets.UTF_8);
        len = 0;
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
