package keyguard.admin;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.net.ConnectException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;

/** The CLI's client of the admin API. */
public final class AdminClient {
    private static final ObjectMapper JSON = new ObjectMapper();

    private final URI base;
    private final String token;
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    public AdminClient(URI base, String token) {
        this.base = base;
        this.token = token;
    }

    /** A response: status, parsed JSON body (the first value of JSON lines) and the raw text. */
    public record Reply(int status, JsonNode body, String raw) {
        public String error() { return body.path("error").path("message").asText("HTTP " + status); }
    }

    public Reply get(String path) throws IOException, InterruptedException {
        return send(HttpRequest.newBuilder(base.resolve(path)).GET());
    }

    public Reply post(String path, JsonNode body) throws IOException, InterruptedException {
        return send(HttpRequest.newBuilder(base.resolve(path)).header("content-type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body.toString())));
    }

    public Reply delete(String path) throws IOException, InterruptedException {
        return send(HttpRequest.newBuilder(base.resolve(path)).DELETE());
    }

    private Reply send(HttpRequest.Builder b) throws IOException, InterruptedException {
        try {
            HttpResponse<String> r = http.send(b.header("authorization", "Bearer " + token).timeout(Duration.ofSeconds(30)).build(),
                    HttpResponse.BodyHandlers.ofString());
            JsonNode body;
            try {
                body = r.body().isBlank() ? JSON.createObjectNode() : JSON.readTree(r.body());
            } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
                body = JSON.createObjectNode();
            }
            return new Reply(r.statusCode(), body, r.body());
        } catch (ConnectException e) {
            throw new IOException("no gateway answers at " + base + " (is `./keyguard serve` running? set --admin or KEYGUARD_ADMIN_URL)", e);
        }
    }
}
