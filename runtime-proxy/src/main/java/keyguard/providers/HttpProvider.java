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

    /** The provider's base URL and a path, without a doubled slash; parsed once per path, not per request. */
    java.net.URI url(String path) {
        return urls.computeIfAbsent(path, p -> {
            String base = info.baseUrl();
            return java.net.URI.create((base.endsWith("/") ? base.substring(0, base.length() - 1) : base) + p);
        });
    }

    private final java.util.Map<String, java.net.URI> urls = new java.util.concurrent.ConcurrentHashMap<>();

    /** The request body as UTF-8 JSON, serialized straight to bytes. */
    static byte[] json(com.fasterxml.jackson.databind.JsonNode body) {
        try {
            return Dialect.JSON.writeValueAsBytes(body);
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalStateException("a parsed request body could not be written back", e);
        }
    }
}
