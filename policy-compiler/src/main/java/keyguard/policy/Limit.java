package keyguard.policy;

import keyguard.lang.source.Span;

/** Something a request can run into: a rate or concurrency limit, or a budget. */
public sealed interface Limit permits LimitSpec, BudgetSpec {
    /** Stable id used in decisions, tests and error bodies, e.g. {@code limit.tokens.policy.1d}. */
    String id();

    CounterRef counter();

    /** The cap: requests, tokens, requests in flight, or micro-dollars. */
    long amount();

    /** Template or policy that declared it. */
    String origin();

    Span span();
}
