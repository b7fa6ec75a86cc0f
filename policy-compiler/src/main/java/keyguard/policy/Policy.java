package keyguard.policy;

import java.time.ZoneId;
import java.util.List;
import java.util.Map;
import keyguard.lang.source.Span;

/**
 * A resolved policy: template applied, inheritance settled, names bound, conditions typed
 * and folded. Both backends evaluate exactly this.
 *
 * @param allowedModels model names allowed, in declaration order
 * @param allowedByIndex {@code allowedByIndex[model.index()]}: the same set, for O(1) checks
 * @param rateLimits requests and tokens limits, sorted by id (the first exceeded is reported)
 * @param concurrency concurrent limits, sorted by id
 * @param budgets budgets, sorted by id
 * @param costBound static upper bound of evaluation steps, see {@code keyguard check --cost}
 * @param defaultMaxTokens output tokens assumed for a request that sends no {@code max_tokens}
 *     ({@code default max_tokens N}); 0 when the policy does not say (the gateway's default applies)
 * @param allowOnFunctionError {@code on error allow}: a rule whose function fails does not fire
 *     (by default, {@code on error deny}, it does)
 * @param allowUnscannable {@code on unscannable allow}: content the gateway cannot read (an
 *     image, a PDF) is forwarded as if it held nothing; by default ({@code on unscannable
 *     deny}) it counts as {@code restricted}, the highest class, so it only reaches a model
 *     whose ceiling takes everything
 * @param maxTokensLimit {@code limit max_tokens N}: the largest output cap a request may ask
 *     for (0 for none); {@code clampMaxTokens} lowers a larger one to N instead of refusing it
 * @param allowedParams {@code allow params [...]}: price-changing request parameters allowed
 *     although the routed model does not price them ({@link PricedParams})
 * @param requestTags {@code allow tags { ... }}: the tags a request may carry, by name, in
 *     declaration order (empty: a request carries none)
 * @param endUsers {@code end_users { ... }}: whom its {@code by user} counters count
 *     ({@link EndUsers#DEFAULT} when it does not say)
 * @param alerts the {@code alert} clauses of its budgets and limits, by id order
 * @param delegation {@code delegate max N depth D}: how its keys may mint sub-keys; null when they may not
 */
public record Policy(String name, String template, Map<String, String> tags, List<String> allowedModels,
                     boolean[] allowedByIndex, List<LimitSpec> rateLimits, List<LimitSpec> concurrency,
                     List<BudgetSpec> budgets, DataRule data, List<ForbidRule> forbids, ZoneId zone, Span span,
                     long costBound, long defaultMaxTokens, boolean allowOnFunctionError, boolean allowUnscannable,
                     long maxTokensLimit, boolean clampMaxTokens, java.util.Set<String> allowedParams,
                     Map<String, TagRule> requestTags, EndUsers endUsers, List<AlertSpec> alerts, Delegation delegation) {

    /**
     * The requests in flight a key may hold when its policy sets no {@code limit concurrent
     * N by key}: every policy has a per-key cap, so that one key cannot take all of a
     * gateway's capacity.
     */
    public static final long DEFAULT_KEY_CONCURRENCY = 64;

    public boolean allows(ModelInfo model) {
        return model.index() < allowedByIndex.length && allowedByIndex[model.index()];
    }

    @Override
    public boolean equals(Object o) { return this == o; }

    @Override
    public int hashCode() { return System.identityHashCode(this); }

    @Override
    public String toString() { return "policy " + name; }
}
