package keyguard.lang.source;

/** A half-open range of characters {@code [start, end)} in one source file. */
public record Span(SourceFile file, int start, int end) {

    public Span {
        if (end < start) end = start;
    }

    public int line() { return file.line(start); }

    public int column() { return file.column(start); }

    public Span to(Span other) {
        return new Span(file, Math.min(start, other.start), Math.max(end, other.end));
    }

    public String text() {
        String t = file.text();
        return t.substring(Math.min(start, t.length()), Math.min(end, t.length()));
    }

    /** {@code path:line:col}, the form editors jump to. */
    public String location() { return file.path() + ":" + line() + ":" + column(); }

    @Override
    public String toString() { return location(); }
}
