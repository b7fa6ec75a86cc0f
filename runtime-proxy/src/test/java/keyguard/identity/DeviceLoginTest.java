package keyguard.identity;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import keyguard.admin.OidcConfig;
import keyguard.cli.Main;
import keyguard.gateway.FakeUpstream;
import keyguard.gateway.GatewayHarness;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code keyguard login} end to end: the device flow against an identity provider that
 * speaks it, the engineer confirming the code in their browser, then
 * {@code keyguard keys create --policy P} issuing a key the engineer owns, within their
 * group's grant; the stored sign-in renewed with its refresh token when it expires;
 * {@code keyguard logout}.
 */
class DeviceLoginTest {
    GatewayHarness h;
    DeviceFlowIdp idp;
    Path config;
    String admin;

    record Run(int code, String out, String err) {}

    @BeforeEach
    void start(@TempDir Path tmp) throws Exception {
        idp = new DeviceFlowIdp("keyguard-cli", "keyguard");
        h = new GatewayHarness(tmp);
        h.oidc = new OidcConfig(idp.issuer(), "keyguard", null, "groups", Set.of("kg-admins"), Set.of(), Map.of())
                .withCli("keyguard-cli", null).withSelfService(SelfService.parse(SelfServiceTest.GRANTS, "grants"));
        h.restart();
        config = tmp.resolve("home-config");
        System.setProperty("keyguard.config.dir", config.toString());
        admin = "http://127.0.0.1:" + h.gateway.adminAddress().getPort() + "/";
        // Dana is provisioned over SCIM into search-team, whose members may issue demo keys.
        String scim = Files.readString(h.data.resolve("scim.token")).strip();
        HttpClient http = HttpClient.newHttpClient();
        String dana = FakeUpstream.JSON.readTree(http.send(HttpRequest.newBuilder(URI.create(admin + "scim/v2/Users")).header("Authorization", "Bearer " + scim)
                .header("Content-Type", "application/scim+json").POST(HttpRequest.BodyPublishers.ofString("{\"userName\":\"dana@example.com\",\"active\":true}")).build(),
                HttpResponse.BodyHandlers.ofString()).body()).path("id").asText();
        assertEquals(201, http.send(HttpRequest.newBuilder(URI.create(admin + "scim/v2/Groups")).header("Authorization", "Bearer " + scim)
                .header("Content-Type", "application/scim+json").POST(HttpRequest.BodyPublishers.ofString(
                        "{\"displayName\":\"search-team\",\"members\":[{\"value\":\"" + dana + "\"}]}")).build(), HttpResponse.BodyHandlers.ofString()).statusCode());
    }

    @AfterEach
    void stop() {
        System.clearProperty("keyguard.config.dir");
        h.close();
        idp.close();
    }

    static Run cli(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int code = Main.run(new PrintWriter(out, true), new PrintWriter(err, true), args);
        return new Run(code, out.toString(), err.toString());
    }

    @Test
    void anEngineerSignsInFromATerminalAndIssuesThemselvesAKey() throws Exception {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        AtomicInteger code = new AtomicInteger(-1);
        Thread login = new Thread(() -> code.set(Main.run(new PrintWriter(out, true), new PrintWriter(err, true), "login", "--admin", admin)));
        login.start();
        // The engineer reads the code off the terminal and confirms it in the browser.
        Pattern shown = Pattern.compile("open (\\S+) in a browser and enter the code (\\S+)");
        long deadline = System.nanoTime() + 20_000_000_000L;
        Matcher m = shown.matcher("");
        while (System.nanoTime() < deadline && !(m = shown.matcher(out.toString())).find()) Thread.sleep(20);
        assertTrue(m.find(0), "the code is shown: " + out + err);
        assertEquals(idp.issuer() + "/activate", m.group(1));
        Thread.sleep(1200); // the CLI polls at the provider's interval, and is told to wait meanwhile
        assertTrue(idp.confirm(m.group(2), "dana@example.com", ""));
        login.join(20_000);
        assertEquals(0, code.get(), out + "\n" + err);
        assertTrue(idp.polls.get() >= 2, "polled until confirmed: " + idp.polls.get());
        assertTrue(out.toString().contains("signed in to " + admin + " as user:dana@example.com (member)"), out.toString());
        assertTrue(out.toString().contains("keyguard keys create --policy demo"), out.toString());
        Path stored = config.resolve("credentials.json");
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(stored)), "only its owner reads the sign-in");

        Run created = cli("keys", "create", "--admin", admin, "--policy", "demo");
        assertEquals(0, created.code(), created.out() + created.err());
        assertTrue(created.out().contains("owned by user:dana@example.com"), created.out());
        String secret = created.out().strip().lines().reduce((a, b) -> b).orElseThrow();
        assertEquals(200, h.post("/v1/chat/completions", secret, "{\"model\":\"sim-small\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}").statusCode());
        Run refused = cli("keys", "create", "--admin", admin, "--policy", "all");
        assertEquals(1, refused.code());
        assertTrue(refused.err().contains("self-service allows [demo]"), refused.err());

        // An hour later: the access token has expired; the next command renews it.
        ObjectNode all = (ObjectNode) FakeUpstream.JSON.readTree(Files.readString(stored));
        ((ObjectNode) all.get(admin)).put("expires_at", "2020-01-01T00:00:00Z");
        Files.writeString(stored, all.toString());
        Run list = cli("keys", "list", "--admin", admin);
        assertEquals(0, list.code(), list.err());
        assertTrue(list.out().contains(created.out().split(" ")[2]), list.out());
        assertEquals(1, idp.refreshes.get());
        assertFalse(Files.readString(stored).contains("2020-01-01"), "the renewed sign-in is kept");

        Run out2 = cli("logout", "--admin", admin);
        assertTrue(out2.out().contains("signed out of " + admin), out2.out());
        Run after = cli("keys", "list", "--admin", admin, "--data", config.resolve("nowhere").toString());
        assertEquals(2, after.code());
        assertTrue(after.err().contains("run `keyguard login`"), after.err());
    }

    @Test
    void aGatewayWithoutTheClisClientSaysSo() throws Exception {
        h.oidc = new OidcConfig(idp.issuer(), "keyguard", null, "groups", Set.of("kg-admins"), Set.of(), Map.of());
        h.restart();
        Run r = cli("login", "--admin", "http://127.0.0.1:" + h.gateway.adminAddress().getPort());
        assertEquals(1, r.code());
        assertTrue(r.err().contains("--oidc-cli-client-id"), r.err());
    }
}
