package keyguard.lang.syntax;

import keyguard.lang.source.Span;

/** {@code key: value} in tags, test sections and expectations; dotted keys keep their dots. */
public record MapEntry(String key, Span keySpan, boolean quoted, Expr value, Span span) {}
