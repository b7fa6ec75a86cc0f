package keyguard.providers;

import java.util.Map;
import keyguard.policy.ModelInfo;
import keyguard.policy.ProviderInfo;
import keyguard.tokens.PromptTokens;
import keyguard.wire.Caller;
import keyguard.wire.ParsedRequest;

/**
 * One allowed request on its way to a provider: what the caller asked, where it goes
 * ({@code model} is the routed model, after any reroute), how to answer, and the
 * response headers the gateway adds. {@code listener} hears exactly once how it ended.
 * The request's body is the gateway's own parse of what the caller sent, read by nothing
 * once the call is made: a provider may change it in place (rename the model) instead of
 * copying it.
 */
public record Call(ParsedRequest request, ModelInfo model, ProviderInfo provider, Caller client, PromptTokens prompt,
                   Map<String, String> headers, CallListener listener) {
    /** The prompt's exact token count (counted now if the gateway reserved on an upper bound), images and documents included. */
    public long promptTokens() { return prompt.exact(); }
}
