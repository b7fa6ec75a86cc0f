package keyguard.wire;

import io.undertow.server.HttpServerExchange;
import io.undertow.util.Headers;
import io.undertow.util.HttpString;
import java.util.Map;

/** Writes a whole error response on an exchange that has not started one. */
public final class Responses {
    private Responses() {}

    public static void error(HttpServerExchange exchange, ApiShape shape, GatewayError e, Map<String, String> headers) {
        if (exchange.isResponseStarted()) {
            exchange.endExchange();
            return;
        }
        exchange.setStatusCode(e.status());
        exchange.getResponseHeaders().put(Headers.CONTENT_TYPE, "application/json");
        headers.forEach((k, v) -> exchange.getResponseHeaders().put(new HttpString(k), v));
        e.headers().forEach((k, v) -> exchange.getResponseHeaders().put(new HttpString(k), v));
        exchange.getResponseSender().send(ErrorBodies.render(shape, e));
    }

    public static void json(HttpServerExchange exchange, int status, String body) {
        exchange.setStatusCode(status);
        exchange.getResponseHeaders().put(Headers.CONTENT_TYPE, "application/json");
        exchange.getResponseSender().send(body);
    }
}
