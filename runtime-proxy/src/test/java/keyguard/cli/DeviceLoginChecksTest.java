package keyguard.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.net.httpserver.HttpServer;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/**
 * {@code keyguard login} does not follow a gateway blindly: what it publishes could be
 * someone else's (a mistyped address, a tampered answer), and the codes and tokens of the
 * device flow must reach the real identity provider only.
 */
class DeviceLoginChecksTest {
    @Test
    void codesAndTokensTravelOverHttpsOrStayOnThisMachine() {
        assertTrue(DeviceLogin.safe(URI.create("https://login.example.com/oauth2/default")));
        assertTrue(DeviceLogin.safe(URI.create("http://127.0.0.1:8081/")));
        assertTrue(DeviceLogin.safe(URI.create("http://localhost:8081/")));
        assertFalse(DeviceLogin.safe(URI.create("http://keyguard-admin.example.com/")), "plain HTTP to another machine");
        assertFalse(DeviceLogin.safe(URI.create("file:///etc/passwd")));
        assertEquals("ABCD-EFGH]0;owned", DeviceLogin.printable("ABCD-EFGH\u001b]0;owned\u0007"), "no terminal escapes reach the screen");
    }

    @Test
    void aDiscoveryDocumentThatSendsTokensElsewhereIsRefused() throws Exception {
        AtomicReference<String> doc = new AtomicReference<>();
        HttpServer idp = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        idp.createContext("/.well-known/openid-configuration", x -> {
            byte[] b = doc.get().getBytes(StandardCharsets.UTF_8);
            x.sendResponseHeaders(200, b.length);
            x.getResponseBody().write(b);
            x.close();
        });
        idp.start();
        try {
            String issuer = "http://127.0.0.1:" + idp.getAddress().getPort();
            DeviceLogin flow = new DeviceLogin(Clock.systemUTC());
            doc.set("{\"issuer\":\"" + issuer + "\",\"device_authorization_endpoint\":\"" + issuer + "/device\",\"token_endpoint\":\"" + issuer + "/token\"}");
            assertEquals(issuer + "/token", flow.discover(issuer).token(), "the provider's own endpoints");
            doc.set("{\"issuer\":\"" + issuer + "\",\"device_authorization_endpoint\":\"" + issuer + "/device\",\"token_endpoint\":\"http://127.0.0.1:1/steal\"}");
            DeviceLogin.Failed elsewhere = assertThrows(DeviceLogin.Failed.class, () -> flow.discover(issuer));
            assertTrue(elsewhere.getMessage().contains("not on its own origin"), elsewhere.getMessage());
            doc.set("{\"issuer\":\"https://login.example.com\",\"device_authorization_endpoint\":\"" + issuer + "/device\",\"token_endpoint\":\"" + issuer + "/token\"}");
            assertThrows(DeviceLogin.Failed.class, () -> flow.discover(issuer), "a document for another issuer");
        } finally {
            idp.stop(0);
        }
    }

    @Test
    void aTokenForAnotherAudienceIsNotHandedToTheGateway() throws Exception {
        com.nimbusds.jose.jwk.RSAKey key = new com.nimbusds.jose.jwk.gen.RSAKeyGenerator(2048).generate();
        com.nimbusds.jwt.SignedJWT graph = new com.nimbusds.jwt.SignedJWT(new com.nimbusds.jose.JWSHeader(com.nimbusds.jose.JWSAlgorithm.RS256),
                new com.nimbusds.jwt.JWTClaimsSet.Builder().issuer("https://login.example.com").audience("https://graph.microsoft.com").subject("a").build());
        graph.sign(new com.nimbusds.jose.crypto.RSASSASigner(key));
        DeviceLogin.Failed f = assertThrows(DeviceLogin.Failed.class, () -> DeviceLogin.forGateway(graph.serialize(), "https://login.example.com", "keyguard"));
        assertTrue(f.getMessage().contains("--oidc-cli-scope"), f.getMessage());
        DeviceLogin.forGateway(graph.serialize(), "https://login.example.com/", "https://graph.microsoft.com"); // its own audience: fine
    }
}
