package keyguard.policy;

import keyguard.lang.source.Span;
import keyguard.policy.ir.Ir;

/**
 * {@code forbid when {…} unless {…}}: fires when {@code when} holds and {@code unless} (if
 * any) does not. {@code unless} is null when absent. {@code span} covers the whole statement
 * with its annotations, {@code conditionSpan} the {@code when} block (the line a stack
 * trace through the compiled rule names).
 */
public record ForbidRule(String id, ReasonTemplate reason, Ir when, Ir unless, String origin, Span span, Span conditionSpan) {}
