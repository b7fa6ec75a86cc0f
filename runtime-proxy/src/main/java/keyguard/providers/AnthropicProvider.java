package keyguard.providers;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.LinkedHashMap;
import java.util.Map;
import keyguard.policy.ProviderInfo;
import keyguard.wire.ApiShape;

/**
 * Anthropic's Messages API. Anthropic-shaped calls pass through with the model name
 * changed (and the output cap and web search uses the gateway reserved, see {@code Reservation#outbound}); OpenAI-shaped chat completions are translated to Messages and the reply back.
 */
public final class AnthropicProvider extends HttpProvider {
    AnthropicProvider(ProviderInfo info, String credential, HttpUpstream upstream) {
        super(info, credential, upstream);
    }

    @Override
    public void handle(Call call) {
        boolean translate = call.request().endpoint().shape() == ApiShape.OPENAI;
        ObjectNode body;
        if (translate) {
            body = Translate.openAiToAnthropic(call.request().body(), call.model().upstream());
        } else {
            body = call.request().body(); // the gateway's own tree, no longer read: renamed in place (Call)
            body.put("model", call.model().upstream());
        }
        Map<String, String> headers = new LinkedHashMap<>();
        headers.put("content-type", "application/json");
        headers.put("anthropic-version", info.settings().getOrDefault("api_version", "2023-06-01"));
        if (credential != null) headers.put("x-api-key", credential);
        upstream.send(call, new UpstreamClient.Request(url("/messages"), headers, json(body), timeout),
                Dialect.ANTHROPIC, translate);
    }
}
