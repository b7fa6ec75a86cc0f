package keyguard.counters;

import keyguard.policy.AlertSpec;

/**
 * A counter crossed a threshold an {@code alert} clause watches, for the first time in its
 * period (a budget reached {@code percent} of {@code amount}) or hour (a limit refused its
 * {@code refusals}-th request): what the {@link Enforcer} hands its alert listener, once per
 * threshold, period and counter however many requests and processes see it.
 *
 * @param counter the counter's name in the store (whose, and what: {@code t/search/spend.team.month})
 * @param origin who declared the alert's budget or limit (a policy, {@code team search}, {@code org engineering})
 * @param amount the amount the percentage is of (the declarer's own, not a tighter one sharing the counter)
 * @param percent the threshold reached, 0 for a limit's alert
 * @param refusals the refusals counted in the hour, 0 for a budget's alert
 * @param used what the counter holds now (micro-dollars for a budget)
 * @param periodStart the start of the budget's period or the limit's hour (epoch millis)
 * @param periodEnd its end
 * @param team the key's team, null for none
 * @param org the team's unit, null for none
 */
public record Crossing(String counter, AlertSpec spec, String origin, long amount, int percent, long refusals, long used,
                       long periodStart, long periodEnd, String keyId, String policy, String team, String org, long at) {
}
