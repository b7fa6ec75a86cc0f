package keyguard.lang.syntax;

import keyguard.lang.source.Span;

/** A word as written, with where it was written. */
public record Name(String text, Span span) {
    @Override
    public String toString() { return text; }
}
