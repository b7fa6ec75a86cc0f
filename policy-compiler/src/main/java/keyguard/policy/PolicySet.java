package keyguard.policy;

import java.util.List;
import java.util.Map;

/**
 * Everything compiled from one policy directory: providers, models, policies and their
 * inline tests, stamped with one revision. Immutable; the gateway swaps whole sets.
 *
 * @param scripts the revision's JavaScript functions (their contexts), or null when it
 *     declares none; {@link #close()} frees them once no decision uses the set any more
 * @param labels the key labels rules may read, by name, and who may set them
 * @param org the operator's org units and teams, with the limits their keys share
 * @param channels where alerts go, by name
 */
public record PolicySet(String revision, Map<String, ProviderInfo> providers, Map<String, ModelInfo> models,
                        Map<String, Policy> policies, List<PolicyTestCase> tests, List<DetectorSpec> detectors,
                        keyguard.functions.js.JsModule scripts, Map<String, LabelSpec> labels, OrgChart org,
                        Map<String, ChannelSpec> channels) implements AutoCloseable {

    public PolicySet(String revision, Map<String, ProviderInfo> providers, Map<String, ModelInfo> models,
                     Map<String, Policy> policies, List<PolicyTestCase> tests, List<DetectorSpec> detectors,
                     keyguard.functions.js.JsModule scripts, Map<String, LabelSpec> labels, OrgChart org) {
        this(revision, providers, models, policies, tests, detectors, scripts, labels, org, Map.of());
    }

    public PolicySet(String revision, Map<String, ProviderInfo> providers, Map<String, ModelInfo> models,
                     Map<String, Policy> policies, List<PolicyTestCase> tests, List<DetectorSpec> detectors,
                     keyguard.functions.js.JsModule scripts, Map<String, LabelSpec> labels) {
        this(revision, providers, models, policies, tests, detectors, scripts, labels, OrgChart.NONE);
    }

    public PolicySet(String revision, Map<String, ProviderInfo> providers, Map<String, ModelInfo> models,
                     Map<String, Policy> policies, List<PolicyTestCase> tests, List<DetectorSpec> detectors) {
        this(revision, providers, models, policies, tests, detectors, null, Map.of(), OrgChart.NONE);
    }

    @Override
    public void close() {
        if (scripts != null) scripts.close();
    }

    public ModelInfo model(String name) { return models.get(name); }

    public Policy policy(String name) { return policies.get(name); }
}
