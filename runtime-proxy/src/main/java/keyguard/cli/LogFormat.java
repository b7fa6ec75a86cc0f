package keyguard.cli;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.time.Instant;
import java.util.logging.Formatter;
import java.util.logging.Handler;
import java.util.logging.LogRecord;

/**
 * The gateway's log line: {@code 2026-11-27T15:14:00.123Z INFO keyguard.access: message}.
 * What {@code SimpleFormatter} with our format printed, without its per-record
 * {@code String.format} and time-zone conversion: every request writes an access line.
 */
final class LogFormat extends Formatter {
    @Override
    public String format(LogRecord r) {
        String message = String.valueOf(formatMessage(r)); // null for a record without a message
        StringBuilder sb = new StringBuilder(message.length() + 80); // the line in one buffer: no copy as it grows
        sb.append(Instant.ofEpochMilli(r.getMillis())).append(' ').append(r.getLevel().getName()).append(' ')
                .append(r.getLoggerName()).append(": ").append(message);
        if (r.getThrown() != null) {
            StringWriter trace = new StringWriter();
            r.getThrown().printStackTrace(new PrintWriter(trace));
            sb.append(System.lineSeparator()).append(trace.toString().stripTrailing());
        }
        return sb.append(System.lineSeparator()).toString();
    }

    /** Puts this format on the root logger's handlers (the console handler, by default). */
    static void install() {
        for (Handler h : java.util.logging.Logger.getLogger("").getHandlers()) h.setFormatter(new LogFormat());
    }
}
