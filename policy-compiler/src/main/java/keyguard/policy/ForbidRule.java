package keyguard.policy;

import keyguard.lang.source.Span;
import keyguard.policy.ir.Ir;

/**
 * {@code forbid when {…} unless {…}}: fires when {@code when} holds and {@code unless} (if
 * any) does not. {@code unless} is null when absent.
 */
public record ForbidRule(String id, ReasonTemplate reason, Ir when, Ir unless, String origin, Span span) {}
