package keyguard.providers;

import java.util.HashMap;
import java.util.Map;
import java.util.function.Function;
import keyguard.policy.PolicySet;
import keyguard.policy.ProviderInfo;

/**
 * The providers of a policy set, by name. Credentials are read once, here, from the
 * environment variables the policy names; they live only inside the provider objects and
 * are never logged, echoed or written anywhere. A provider whose variable is unset still
 * loads: its requests go out without a credential and the upstream's refusal becomes a
 * 502 that names the variable (never its value).
 */
public final class Providers {
    private final Map<String, Provider> byName = new HashMap<>();
    private final Map<String, String> missingCredentials = new HashMap<>();

    public Providers(PolicySet set, Function<String, String> env, HttpUpstreamHolder http) {
        for (ProviderInfo p : set.providers().values()) {
            String credential = p.credentialEnv() == null ? null : env.apply(p.credentialEnv());
            // A secret mounted from a file usually ends in a newline. Surrounding white space is
            // dropped; a control character inside would split the request's header block (and
            // could desynchronise a kept-alive connection), so such a value counts as unset.
            if (credential != null) credential = credential.strip();
            if (credential != null && credential.chars().anyMatch(c -> c < 0x20 || c == 0x7f)) {
                System.getLogger("keyguard.providers").log(System.Logger.Level.WARNING, "the credential in " + p.credentialEnv()
                        + " for provider `" + p.name() + "` contains a control character; it is not used");
                credential = null;
            }
            if (p.credentialEnv() != null && (credential == null || credential.isBlank())) {
                missingCredentials.put(p.name(), p.credentialEnv());
                credential = null;
            }
            byName.put(p.name(), switch (p.kind()) {
                case "simulator" -> new SimulatorProvider(p);
                case "anthropic" -> new AnthropicProvider(p, credential, http.get());
                default -> new OpenAiProvider(p, credential, http.get());
            });
        }
    }

    public Provider get(String name) { return byName.get(name); }

    /** Provider name to the environment variable that is not set, for the start-up report. */
    public Map<String, String> missingCredentials() { return Map.copyOf(missingCredentials); }

    /**
     * One HTTP client for all providers and all policy revisions, made at the first HTTP
     * provider (a gateway on the simulator alone never sets up TLS).
     */
    public static final class HttpUpstreamHolder {
        private final java.nio.file.Path extraTrust;
        private HttpUpstream upstream;

        /** @param extraTrust PEM certificates an HTTPS upstream may present beside the JDK's trust anchors (operator configuration), or null */
        public HttpUpstreamHolder(java.nio.file.Path extraTrust) {
            this.extraTrust = extraTrust;
        }

        synchronized HttpUpstream get() {
            if (upstream == null) upstream = new HttpUpstream(UpstreamClient.Settings.DEFAULT, extraTrust);
            return upstream;
        }
    }
}
