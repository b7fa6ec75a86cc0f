package keyguard.lang.diag;

import keyguard.lang.source.SourceFile;
import keyguard.lang.source.Span;

/**
 * Renders a diagnostic the way Rust and Elm do:
 *
 * <pre>
 * error[KG0312]: `limit tokens per 1d by policy` redefines an inherited limit
 *   --&gt; policies/teams/search.kgp:3:3
 *    |
 *  3 |   limit tokens 5_000_000 per 1d by policy
 *    |   ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^ inherited as 2_000_000 from `team_default`
 *    = help: write `override limit ...` to replace it, or remove this line
 * </pre>
 *
 * Very long lines are cut to a window around the span so that a 1 MB line still renders
 * as a few hundred characters.
 */
public final class DiagnosticRenderer {
    private static final int MAX_SHOWN = 120;

    private DiagnosticRenderer() {}

    /** Keeps quotes and the first three characters, stars the rest. */
    private static String mask(String s) {
        StringBuilder sb = new StringBuilder(s.length());
        int kept = 0;
        for (char c : s.toCharArray()) {
            if (c == '"' || kept < 3) {
                sb.append(c);
                if (c != '"') kept++;
            } else {
                sb.append('*');
            }
        }
        return sb.toString();
    }

    public static String render(Diagnostic d) {
        Span span = d.span();
        SourceFile file = span.file();
        int line = span.line();
        int col = span.column();
        String gutter = " ".repeat(String.valueOf(line).length());
        StringBuilder sb = new StringBuilder();
        sb.append(d.severity().label()).append('[').append(d.code().id()).append("]: ").append(d.message()).append('\n');
        sb.append(gutter).append("--> ").append(file.path()).append(':').append(line).append(':').append(col).append('\n');
        sb.append(gutter).append(" |\n");

        String text = file.lineText(line);
        int from = col - 1;
        int to = Math.min(text.length(), from + Math.max(1, span.end() - span.start()));
        int caretLen = Math.max(1, to - from);
        if (d.code().masksSpan() && to > from) {
            text = text.substring(0, from) + mask(text.substring(from, to)) + text.substring(to);
        }
        String prefix = "";
        if (text.length() > MAX_SHOWN) {
            int windowStart = Math.max(0, Math.min(from - 40, text.length() - MAX_SHOWN));
            int windowEnd = Math.min(text.length(), windowStart + MAX_SHOWN);
            prefix = windowStart > 0 ? "…" : "";
            text = prefix + text.substring(windowStart, windowEnd) + (windowEnd < text.length() ? "…" : "");
            from = from - windowStart + prefix.length();
            caretLen = Math.min(caretLen, Math.max(1, MAX_SHOWN - (from - prefix.length())));
        }
        sb.append(line).append(" | ").append(text).append('\n');
        StringBuilder pad = new StringBuilder();
        for (int i = 0; i < from && i < text.length(); i++) pad.append(text.charAt(i) == '\t' ? '\t' : ' ');
        sb.append(gutter).append(" | ").append(pad).append("^".repeat(caretLen));
        if (!d.label().isEmpty()) sb.append(' ').append(d.label());
        sb.append('\n');
        if (!d.help().isEmpty()) sb.append(gutter).append(" = help: ").append(d.help()).append('\n');
        return sb.toString();
    }
}
