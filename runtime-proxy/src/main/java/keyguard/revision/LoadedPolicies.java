package keyguard.revision;

import java.time.Instant;
import java.util.Map;
import keyguard.policy.PolicyEvaluator;
import keyguard.policy.PolicySet;
import keyguard.providers.Providers;

/**
 * One policy revision, ready to serve: the compiled evaluators and the providers built
 * from it. Immutable; the gateway swaps whole snapshots, and a request finishes on the
 * snapshot it started with.
 */
public record LoadedPolicies(PolicySet set, Map<String, PolicyEvaluator> evaluators, Providers providers, Instant loadedAt,
                             keyguard.classify.Classifier classifier) {}
