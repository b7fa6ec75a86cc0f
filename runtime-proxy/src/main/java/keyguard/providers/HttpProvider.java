package keyguard.providers;

import java.time.Duration;
import keyguard.policy.ProviderInfo;

/** What the HTTP upstreams share: their declaration, credential, client and timeout. */
abstract sealed class HttpProvider implements Provider permits OpenAiProvider, AnthropicProvider {
    final ProviderInfo info;
    final String credential;
    final HttpUpstream upstream;
    /** Until the response headers arrive; the provider's {@code timeout}, 60 s by default. */
    final Duration timeout;

    HttpProvider(ProviderInfo info, String credential, HttpUpstream upstream) {
        this.info = info;
        this.credential = credential;
        this.upstream = upstream;
        this.timeout = Duration.ofMillis(Long.parseLong(info.settings().getOrDefault("timeout", "60000")));
    }

    /** The provider's base URL and a path, without a doubled slash. */
    String url(String path) {
        String base = info.baseUrl();
        return (base.endsWith("/") ? base.substring(0, base.length() - 1) : base) + path;
    }
}
