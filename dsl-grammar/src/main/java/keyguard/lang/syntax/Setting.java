package keyguard.lang.syntax;

import keyguard.lang.source.Span;

public record Setting(Name name, Value value, Span span) {}
