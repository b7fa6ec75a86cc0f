package keyguard.proxy;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.undertow.server.HttpHandler;
import io.undertow.server.HttpServerExchange;
import java.util.function.Supplier;
import keyguard.keys.KeyRecord;
import keyguard.policy.ModelInfo;
import keyguard.policy.Policy;
import keyguard.revision.LoadedPolicies;
import keyguard.wire.ApiShape;
import keyguard.wire.RequestParser;
import keyguard.wire.Responses;

/**
 * {@code GET /v1/models}: the models the key's policy allows (a sub-key's: those of them it may call), in OpenAI's list shape, or
 * Anthropic's when the request carries {@code anthropic-version}.
 */
public final class ModelsHandler implements HttpHandler {
    private final KeyAuth auth;
    private final Supplier<LoadedPolicies> policies;

    public ModelsHandler(KeyAuth auth, Supplier<LoadedPolicies> policies) {
        this.auth = auth;
        this.policies = policies;
    }

    @Override
    public void handleRequest(HttpServerExchange exchange) {
        boolean anthropic = exchange.getRequestHeaders().contains("anthropic-version");
        ApiShape shape = anthropic ? ApiShape.ANTHROPIC : ApiShape.OPENAI;
        KeyRecord key;
        switch (auth.authenticate(exchange)) {
            case Authentication.Refusal refusal -> {
                auth.answer(exchange, shape, refusal);
                return;
            }
            case Authentication.Key(KeyRecord k) -> key = k;
        }
        LoadedPolicies lp = policies.get();
        Policy p = lp.set().policy(key.policy());
        ObjectNode root = RequestParser.JSON.createObjectNode();
        ArrayNode data;
        if (anthropic) {
            data = root.putArray("data");
        } else {
            root.put("object", "list");
            data = root.putArray("data");
        }
        if (p != null) {
            for (String name : p.allowedModels()) {
                if (key.delegated() != null && !key.delegated().models().contains(name)) continue; // a sub-key's subset
                ModelInfo m = lp.set().model(name);
                ObjectNode o = data.addObject();
                if (anthropic) {
                    o.put("type", "model").put("id", m.name()).put("display_name", m.name()).put("created_at", "1970-01-01T00:00:00Z");
                } else {
                    o.put("id", m.name()).put("object", "model").put("created", 0).put("owned_by", m.provider());
                }
            }
        }
        if (anthropic) {
            root.put("has_more", false);
            if (!data.isEmpty()) {
                root.put("first_id", data.get(0).path("id").asText());
                root.put("last_id", data.get(data.size() - 1).path("id").asText());
            }
        }
        Responses.json(exchange, 200, root.toString());
    }
}
