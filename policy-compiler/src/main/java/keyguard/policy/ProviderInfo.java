package keyguard.policy;

import java.util.Map;
import keyguard.lang.source.Span;

/**
 * A provider from {@code models.kgp}. {@code credentialEnv} names the environment variable
 * that holds the secret; the secret itself never enters a policy file or this record.
 */
public record ProviderInfo(String name, String kind, String baseUrl, String credentialEnv, Map<String, String> settings, Span span) {}
