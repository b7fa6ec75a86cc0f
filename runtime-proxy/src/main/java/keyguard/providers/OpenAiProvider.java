package keyguard.providers;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.LinkedHashMap;
import java.util.Map;
import keyguard.policy.ProviderInfo;
import keyguard.wire.ApiShape;
import keyguard.wire.Endpoint;

/**
 * Any OpenAI-compatible upstream (OpenAI, vLLM, Ollama, Azure-style base URLs). OpenAI-shaped
 * calls pass through with the model name changed, usage requested on streams, and the
 * output cap the gateway reserved (see {@code Reservation#outbound});
 * Anthropic-shaped calls are translated both ways.
 */
public final class OpenAiProvider extends HttpProvider {
    OpenAiProvider(ProviderInfo info, String credential, HttpUpstream upstream) {
        super(info, credential, upstream);
    }

    @Override
    public void handle(Call call) {
        Endpoint endpoint = call.request().endpoint();
        boolean translate = endpoint.shape() == ApiShape.ANTHROPIC;
        ObjectNode body;
        String path;
        if (translate) {
            body = Translate.anthropicToOpenAi(call.request().body(), call.model().upstream(),
                    info.settings().getOrDefault("output_cap", "max_completion_tokens"));
            path = "/chat/completions";
        } else {
            body = call.request().body(); // the gateway's own tree, no longer read: changed in place (Call)
            body.put("model", call.model().upstream());
            if (endpoint == Endpoint.CHAT_COMPLETIONS && call.request().stream()) {
                body.putObject("stream_options").put("include_usage", true);
            }
            path = endpoint == Endpoint.EMBEDDINGS ? "/embeddings" : "/chat/completions";
        }
        Map<String, String> headers = new LinkedHashMap<>();
        headers.put("content-type", "application/json");
        headers.put("accept", call.request().stream() ? "text/event-stream" : "application/json");
        if (credential != null) headers.put("authorization", "Bearer " + credential);
        upstream.send(call, new UpstreamClient.Request(url(path), headers, json(body), timeout),
                Dialect.OPENAI, translate);
    }

}
