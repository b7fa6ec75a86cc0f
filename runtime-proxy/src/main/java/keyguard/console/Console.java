package keyguard.console;

import io.undertow.server.HttpHandler;
import io.undertow.server.HttpServerExchange;
import io.undertow.util.Headers;
import io.undertow.util.HttpString;
import io.undertow.util.Methods;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The console: a web dashboard served by the admin listener at {@code /console/} (and
 * {@code /} redirecting there), from files in the jar. Everything it shows and changes
 * goes through the admin API with the browser's session ({@code /admin/session}); this
 * handler serves only static files and the identity provider's sign-in
 * ({@link OidcSignIn}), and hands every other path to the admin API.
 *
 * <p>Invariants: only the files of {@link #ASSETS} are served (no path from the request
 * reaches the class path); every answer carries a Content-Security-Policy that allows
 * scripts, styles and connections from this listener only (no inline script, no
 * framing), {@code nosniff} and no referrer.
 */
public final class Console implements HttpHandler {
    /** The console's files: request path under /console/ → resource, content type. */
    static final Map<String, String[]> ASSETS = Map.of(
            "", new String[] {"keyguard/console/index.html", "text/html; charset=utf-8"},
            "app.js", new String[] {"keyguard/console/app.js", "text/javascript; charset=utf-8"},
            "app.css", new String[] {"keyguard/console/app.css", "text/css; charset=utf-8"},
            "vendor/uPlot.iife.min.js", new String[] {"META-INF/resources/webjars/uplot/1.6.30/dist/uPlot.iife.min.js", "text/javascript; charset=utf-8"},
            "vendor/uPlot.min.css", new String[] {"META-INF/resources/webjars/uplot/1.6.30/dist/uPlot.min.css", "text/css; charset=utf-8"});

    /**
     * Scripts, styles, images and connections from this origin only; no plugins, no frames
     * around or inside, forms post here only, no {@code <base>}. uPlot sizes its canvas
     * through the CSS object model, which {@code style-src 'self'} allows.
     */
    public static final String CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
            + "connect-src 'self'; font-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

    private final HttpHandler admin;
    private final OidcSignIn oidc;
    private final Map<String, byte[]> cache = new ConcurrentHashMap<>();

    /** @param oidc the identity provider's sign-in, or null when the console takes tokens only */
    public Console(HttpHandler admin, OidcSignIn oidc) {
        this.admin = admin;
        this.oidc = oidc;
    }

    @Override
    public void handleRequest(HttpServerExchange exchange) throws Exception {
        String path = exchange.getRelativePath();
        if (!path.equals("/") && !path.equals("/console") && !path.startsWith("/console/")) {
            // The admin API's answers hold keys, spend and recorded requests: never cached, never sniffed, never framed.
            var h = exchange.getResponseHeaders();
            h.put(new HttpString("X-Content-Type-Options"), "nosniff");
            h.put(Headers.CACHE_CONTROL, "no-store");
            h.put(new HttpString("Content-Security-Policy"), "default-src 'none'; frame-ancestors 'none'");
            admin.handleRequest(exchange);
            return;
        }
        headers(exchange);
        if (path.equals("/") || path.equals("/console")) {
            exchange.setStatusCode(302);
            exchange.getResponseHeaders().put(Headers.LOCATION, "/console/");
            exchange.endExchange();
            return;
        }
        String rest = path.substring("/console/".length());
        if (rest.startsWith("oidc/")) {
            if (oidc == null) {
                plain(exchange, 404, "sign-in through an identity provider is not configured on this gateway (serve --oidc-client-id)");
            } else if (exchange.isInIoThread()) {
                exchange.dispatch(this); // the code exchange calls the identity provider
            } else if (rest.equals("oidc/start")) {
                oidc.start(exchange);
            } else if (rest.equals("oidc/callback")) {
                oidc.callback(exchange);
            } else {
                plain(exchange, 404, "no such console page");
            }
            return;
        }
        if (rest.equals("config.json")) { // what the sign-in page offers
            exchange.getResponseHeaders().put(Headers.CONTENT_TYPE, "application/json");
            exchange.getResponseHeaders().put(Headers.CACHE_CONTROL, "no-store");
            exchange.getResponseSender().send("{\"oidc\":" + (oidc != null) + "}");
            return;
        }
        String[] asset = ASSETS.get(rest);
        if (asset == null || !(exchange.getRequestMethod().equals(Methods.GET) || exchange.getRequestMethod().equals(Methods.HEAD))) {
            plain(exchange, asset == null ? 404 : 405, asset == null ? "no such console page" : "the console's files are read with GET");
            return;
        }
        byte[] body = cache.computeIfAbsent(asset[0], Console::read);
        exchange.getResponseHeaders().put(Headers.CONTENT_TYPE, asset[1]);
        exchange.getResponseHeaders().put(Headers.CACHE_CONTROL, rest.isEmpty() ? "no-store" : "no-cache");
        exchange.getResponseSender().send(ByteBuffer.wrap(body));
    }

    /** The security headers every console answer carries. */
    static void headers(HttpServerExchange exchange) {
        var h = exchange.getResponseHeaders();
        h.put(new HttpString("Content-Security-Policy"), CSP);
        h.put(new HttpString("X-Content-Type-Options"), "nosniff");
        h.put(new HttpString("X-Frame-Options"), "DENY");
        h.put(new HttpString("Referrer-Policy"), "no-referrer");
        h.put(new HttpString("Cross-Origin-Opener-Policy"), "same-origin");
        h.put(new HttpString("Cross-Origin-Resource-Policy"), "same-origin");
    }

    static void plain(HttpServerExchange exchange, int status, String text) {
        exchange.setStatusCode(status);
        exchange.getResponseHeaders().put(Headers.CONTENT_TYPE, "text/plain; charset=utf-8");
        exchange.getResponseHeaders().put(Headers.CACHE_CONTROL, "no-store");
        exchange.getResponseSender().send(text);
    }

    private static byte[] read(String resource) {
        try (InputStream in = Console.class.getClassLoader().getResourceAsStream(resource)) {
            if (in == null) throw new IllegalStateException("the console's file " + resource + " is missing from the jar");
            return in.readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
