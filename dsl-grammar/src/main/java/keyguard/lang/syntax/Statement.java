package keyguard.lang.syntax;

import java.util.List;
import keyguard.lang.source.Span;

/** A statement in a template or policy body. */
public sealed interface Statement {
    Span span();

    record Tags(List<MapEntry> entries, Span span) implements Statement {}

    /** {@code models allow [..]} or {@code models allow += [..]}. */
    record Models(boolean override, Name verb, boolean add, List<Expr> models, Span span) implements Statement {}

    /** {@code failMode} is the word after {@code fail} ({@code open} or {@code closed}), null when absent. */
    record Limit(boolean override, Name metric, Quantity amount, Name window, Name scope, Name failMode, Name mode, Alert alert, Span span)
            implements Statement {}

    /**
     * {@code alert CHANNEL at 50%, 80%} after a budget, {@code alert CHANNEL after N} after a
     * limit; {@code percents} is empty for the second form, {@code after} and {@code count}
     * null for the first.
     */
    record Alert(Name channel, List<Expr.Dec> percents, Name after, Quantity count, Span span) {}

    /** {@code allow params ["service_tier", "store"]}: request parameters that change the price, allowed although unpriced. */
    record Params(boolean override, List<Expr> params, Span span) implements Statement {}

    /**
     * {@code allow tags { project required in ["alpha", "beta"] ... }}: the tags a caller may
     * attach to a request ({@code x-keyguard-tags}, OpenAI {@code metadata}), which of them it
     * must, and the values each takes (none listed: any).
     */
    /** {@code end_users { from ["user", "metadata", "header"]  max 10_000  overflow shared|refuse }}: whom {@code by user} counts. */
    record EndUsers(boolean override, List<Setting> settings, Span span) implements Statement {}

    record RequestTags(boolean override, List<RequestTag> tags, Span span) implements Statement {}

    /** One tag of {@link RequestTags}: {@code presence} is the word after the name ({@code required}, {@code optional}) or null. */
    record RequestTag(String key, Span keySpan, boolean quoted, Name presence, List<Expr> values, Span span) {}

    record Budget(boolean override, Quantity amount, Name currency, Name period, Name kind, Expr.Dec warnPercent, Name scope, Alert alert,
                  Span span) implements Statement {}

    record Data(boolean override, Name level, Name dataClass, Name violation, Name action, StringLit target, Span span) implements Statement {}

    record Zone(StringLit zone, Span span) implements Statement {}

    /** {@code default max_tokens N}: a request setting the policy assumes when the caller sends none. */
    record Default(boolean override, Name setting, Quantity amount, Span span) implements Statement {}

    /** {@code delegate max N [depth D]}: a key of the policy may mint sub-keys; {@code depthWord} and {@code depth} null when not given. */
    record Delegate(boolean override, Name maxWord, Quantity max, Name depthWord, Quantity depth, Span span) implements Statement {}

    /** {@code on error deny|allow}: what a rule does when a function it calls fails. */
    record On(boolean override, Name event, Name action, Span span) implements Statement {}

    record Forbid(List<Annotation> annotations, Expr when, Expr unless, Span span) implements Statement {}
}
