package keyguard.lang.source;

import java.util.Arrays;

/**
 * The text of one policy file and where its lines start, so that offsets turn into
 * {@code line:col} without rescanning. {@code path} is the path as the user should read it
 * (relative to the policy directory when there is one).
 */
public final class SourceFile {
    private final String path;
    private final String text;
    private final int[] lineStarts;

    public SourceFile(String path, String text) {
        this.path = path;
        this.text = text;
        int[] starts = new int[16];
        int n = 0;
        starts[n++] = 0;
        for (int i = 0; i < text.length(); i++) {
            if (text.charAt(i) == '\n') {
                if (n == starts.length) starts = Arrays.copyOf(starts, n * 2);
                starts[n++] = i + 1;
            }
        }
        this.lineStarts = Arrays.copyOf(starts, n);
    }

    public String path() { return path; }

    public String text() { return text; }

    /** 1-based line of an offset. */
    public int line(int offset) {
        int i = Arrays.binarySearch(lineStarts, Math.max(0, Math.min(offset, text.length())));
        return (i >= 0 ? i : -i - 2) + 1;
    }

    /** 1-based column of an offset, counted in characters. */
    public int column(int offset) {
        int o = Math.max(0, Math.min(offset, text.length()));
        return o - lineStarts[line(o) - 1] + 1;
    }

    public int lineCount() { return lineStarts.length; }

    /** The text of a 1-based line without its line terminator. */
    public String lineText(int line) {
        int start = lineStarts[line - 1];
        int end = line < lineStarts.length ? lineStarts[line] - 1 : text.length();
        if (end > start && text.charAt(end - 1) == '\r') end--;
        return text.substring(start, Math.max(start, end));
    }

    public int lineStart(int line) { return lineStarts[line - 1]; }

    @Override
    public String toString() { return path; }
}
