package keyguard.proxy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;

import io.undertow.Undertow;
import io.undertow.server.HttpHandler;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;
import keyguard.keys.ChronicleKeyStore;
import keyguard.keys.KeyRecord;
import keyguard.keys.KeySecrets;
import keyguard.keys.KeyState;
import keyguard.wire.Endpoint;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The request path is a chain of one small handler per stage, printable like Undertow's,
 * and a stage runs alone: here the first three, on a real loopback listener, in front of a
 * stub that records what reached it.
 */
class RequestChainTest {
    static InferenceHandler.Path path(KeyAuth auth) {
        return new InferenceHandler.Path(Endpoint.CHAT_COMPLETIONS, auth, null, 1024, null, null, CallerTimeouts.NONE);
    }

    @Test
    void theChainPrintsItsStagesInOrder() {
        InferenceHandler.Path path = path(null);
        InferenceHandler.Forward forward = new InferenceHandler.Forward(path);
        var chain = new InferenceHandler.RequirePost(path, new InferenceHandler.Authenticate(path, new InferenceHandler.ReadBody(path,
                new InferenceHandler.Parse(path, new InferenceHandler.Classify(path, new InferenceHandler.Decide(path,
                        new InferenceHandler.Admit(path, forward)))))));
        assertEquals("method POST -> authenticate -> read body -> parse -> classify -> decide -> admit -> forward", chain.toString());
    }

    @Test
    void theFirstStagesAloneRefuseAWrongMethodAWrongKeyAndABodyTooLargeAndPassTheRestOn(@TempDir Path tmp) throws Exception {
        KeySecrets secrets = new KeySecrets(KeySecrets.newServerSecret());
        KeySecrets.NewSecret fresh = KeySecrets.generate();
        try (ChronicleKeyStore keys = ChronicleKeyStore.open(tmp.resolve("keys.dat"), 100)) {
            keys.put(new KeyRecord(fresh.id(), "chain", "", "p", Map.of(), Instant.now(), null, KeyState.ACTIVE, secrets.hash(fresh.secret())));
            InferenceHandler.Path path = path(new KeyAuth(keys, secrets, Clock.systemUTC()));
            AtomicReference<InferenceHandler.Request> reached = new AtomicReference<>();
            HttpHandler stub = exchange -> {
                reached.set(InferenceHandler.Request.of(exchange));
                exchange.getResponseSender().send("reached");
            };
            HttpHandler chain = new InferenceHandler.RequirePost(path, new InferenceHandler.Authenticate(path, new InferenceHandler.ReadBody(path, stub)));
            Undertow server = Undertow.builder().addHttpListener(0, "127.0.0.1").setHandler(chain).build();
            server.start();
            try {
                int port = ((InetSocketAddress) server.getListenerInfo().get(0).getAddress()).getPort();
                HttpClient http = HttpClient.newHttpClient();
                URI uri = URI.create("http://127.0.0.1:" + port + "/v1/chat/completions");
                assertEquals(405, http.send(HttpRequest.newBuilder(uri).GET().build(), HttpResponse.BodyHandlers.ofString()).statusCode());
                assertEquals(401, http.send(HttpRequest.newBuilder(uri).header("authorization", "Bearer kg-nope-nope")
                        .POST(HttpRequest.BodyPublishers.ofString("{}")).build(), HttpResponse.BodyHandlers.ofString()).statusCode());
                assertNull(reached.get(), "nothing refused reaches the next stage");
                assertEquals(413, http.send(HttpRequest.newBuilder(uri).header("authorization", "Bearer " + fresh.secret())
                        .POST(HttpRequest.BodyPublishers.ofString("x".repeat(2048))).build(), HttpResponse.BodyHandlers.ofString()).statusCode());
                HttpResponse<String> ok = http.send(HttpRequest.newBuilder(uri).header("authorization", "Bearer " + fresh.secret())
                        .POST(HttpRequest.BodyPublishers.ofString("{\"model\":\"m\"}")).build(), HttpResponse.BodyHandlers.ofString());
                assertEquals("reached", ok.body());
                assertNotNull(reached.get());
                assertEquals(fresh.id(), reached.get().key.id(), "the key found by authenticate");
                assertEquals("{\"model\":\"m\"}", new String(reached.get().body), "the body read whole");
            } finally {
                server.stop();
            }
        }
    }
}
