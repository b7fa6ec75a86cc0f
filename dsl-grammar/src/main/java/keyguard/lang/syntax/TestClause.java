package keyguard.lang.syntax;

import java.util.List;
import keyguard.lang.source.Span;

public sealed interface TestClause {
    Span span();

    record Expect(Name outcome, StringLit rule, List<MapEntry> tags, Span span) implements TestClause {}

    record At(StringLit instant, Span span) implements TestClause {}

    /** {@code request {...}}, {@code key {...}}, {@code usage {...}}. */
    record Section(Name section, List<MapEntry> entries, Span span) implements TestClause {}
}
