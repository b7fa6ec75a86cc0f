package keyguard.lang.syntax;

import keyguard.lang.source.Span;

/** {@code @id("...")}, {@code @reason("...")}. */
public record Annotation(Name name, StringLit value, Span span) {}
