package keyguard.audit;

/**
 * How text that came from outside (a caller's model name, a key's name, a label) enters a
 * log line, an error message or an audit field: bounded in length, with every control
 * character, line or paragraph separator and bidirectional override escaped, so that no
 * value can forge a log line, hide text or grow a line without end. JSON output (audit
 * events, error bodies) is escaped by its writer; plain-text lines go through here.
 */
public final class UntrustedText {
    private UntrustedText() {}

    /** Whether {@code s} holds a control character, a separator or a bidirectional control. */
    public static boolean hasControl(CharSequence s) {
        for (int i = 0; i < s.length(); i++) if (control(s.charAt(i))) return true;
        return false;
    }

    /** {@code s} escaped and cut to at most {@code max} characters of input (then {@code …}). */
    public static String quote(CharSequence s, int max) {
        StringBuilder sb = new StringBuilder(Math.min(s.length(), max) + 8);
        append(sb, s, max);
        return sb.toString();
    }

    /** Appends {@code s} escaped ({@code \n}, {@code \u2028}, …), cut after {@code max} characters with {@code …}. */
    public static StringBuilder append(StringBuilder sb, CharSequence s, int max) {
        if (s == null) return sb.append("null");
        int n = Math.min(s.length(), max);
        for (int i = 0; i < n; i++) {
            char c = s.charAt(i);
            if (!escaped(c)) {
                sb.append(c);
            } else if (c == '\n') {
                sb.append("\\n");
            } else if (c == '\r') {
                sb.append("\\r");
            } else if (c == '\t') {
                sb.append("\\t");
            } else {
                sb.append("\\u").append(Character.forDigit(c >> 12 & 15, 16)).append(Character.forDigit(c >> 8 & 15, 16))
                        .append(Character.forDigit(c >> 4 & 15, 16)).append(Character.forDigit(c & 15, 16));
            }
        }
        if (s.length() > max) sb.append('…');
        return sb;
    }

    /** Controls, and the backslash, so that an escape in the output is always one the input did not contain. */
    private static boolean escaped(char c) {
        return c == '\\' || control(c);
    }

    /** C0 and C1 controls, DEL, line and paragraph separators, bidirectional controls and the BOM. */
    private static boolean control(char c) {
        return c < 0x20 || (c >= 0x7f && c <= 0x9f) || c == '\u2028' || c == '\u2029' || (c >= '\u202a' && c <= '\u202e')
                || (c >= '\u2066' && c <= '\u2069') || c == '\u200e' || c == '\u200f' || c == '\ufeff';
    }
}
