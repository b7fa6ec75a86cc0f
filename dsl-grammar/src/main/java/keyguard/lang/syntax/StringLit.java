package keyguard.lang.syntax;

import keyguard.lang.source.Span;

/** A string literal: {@code value} is unescaped, {@code raw} is the text between the quotes. */
public record StringLit(String value, String raw, Span span) {}
