package keyguard.policy;

import java.util.List;
import java.util.Map;

/**
 * Everything compiled from one policy directory: providers, models, policies and their
 * inline tests, stamped with one revision. Immutable; the gateway swaps whole sets.
 */
public record PolicySet(String revision, Map<String, ProviderInfo> providers, Map<String, ModelInfo> models,
                        Map<String, Policy> policies, List<PolicyTestCase> tests, List<DetectorSpec> detectors) {

    public ModelInfo model(String name) { return models.get(name); }

    public Policy policy(String name) { return policies.get(name); }
}
