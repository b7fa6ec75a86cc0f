package keyguard.providers;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.net.URI;
import java.net.http.HttpRequest;
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
        HttpRequest.Builder req = HttpRequest.newBuilder(URI.create(url("/messages")))
                .timeout(timeout)
                .header("content-type", "application/json")
                .header("anthropic-version", info.settings().getOrDefault("api_version", "2023-06-01"))
                .POST(HttpRequest.BodyPublishers.ofString(body.toString()));
        if (credential != null) req.header("x-api-key", credential);
        upstream.send(call, req.build(), Dialect.ANTHROPIC, translate);
    }
}
