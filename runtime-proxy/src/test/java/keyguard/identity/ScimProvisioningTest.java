package keyguard.identity;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import keyguard.admin.AdminClient;
import keyguard.gateway.FakeUpstream;
import keyguard.gateway.GatewayHarness;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * SCIM provisioning against a real gateway, with the request sequences Okta and Entra ID
 * send (their documented payloads, down to Entra's {@code "op":"Replace"} and
 * {@code "value":"False"}): a deactivated or deleted user's keys, and a deleted group's,
 * are refused on their next request.
 */
class ScimProvisioningTest {
    GatewayHarness h;
    String scimToken;
    final HttpClient http = HttpClient.newHttpClient();

    @BeforeEach
    void start(@TempDir Path tmp) throws Exception {
        h = new GatewayHarness(tmp);
        scimToken = Files.readString(h.data.resolve("scim.token")).strip();
    }

    @AfterEach
    void stop() {
        h.close();
    }

    record Reply(int status, JsonNode body, String raw) {}

    Reply scim(String method, String path, String body) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + h.gateway.adminAddress().getPort() + "/scim/v2" + path))
                .header("Authorization", "Bearer " + scimToken).header("Content-Type", "application/scim+json")
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
        HttpResponse<String> r = http.send(b.build(), HttpResponse.BodyHandlers.ofString());
        return new Reply(r.statusCode(), r.body().isBlank() ? FakeUpstream.JSON.createObjectNode() : FakeUpstream.JSON.readTree(r.body()), r.body());
    }

    static String q(String s) {
        return URLEncoder.encode(s, StandardCharsets.UTF_8);
    }

    String keyOwnedBy(String owner) throws Exception {
        AdminClient.Reply r = h.admin().post("admin/keys", FakeUpstream.JSON.createObjectNode().put("policy", "demo").put("name", "k").put("owner", owner));
        assertEquals(201, r.status(), r.raw());
        return r.body().path("secret").asText();
    }

    String groupOwner() throws Exception {
        for (JsonNode k : h.admin().get("admin/keys").body().path("keys")) if (k.path("owner").asText().startsWith("group:")) return k.path("owner").asText();
        return null;
    }

    int chat(String secret) throws Exception {
        return h.post("/v1/chat/completions", secret, "{\"model\":\"sim-small\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}").statusCode();
    }

    @Test
    void oktasSequenceEndsWithTheDeactivatedUsersKeysRefused() throws Exception {
        // Okta looks the user up first, then creates it.
        Reply none = scim("GET", "/Users?filter=" + q("userName eq \"alice@example.com\"") + "&startIndex=1&count=100", null);
        assertEquals(200, none.status(), none.raw());
        assertEquals(0, none.body().path("totalResults").asInt());
        Reply created = scim("POST", "/Users", """
                {"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"alice@example.com",
                 "name":{"givenName":"Alice","familyName":"Liddell"},"emails":[{"primary":true,"value":"alice@example.com","type":"work"}],
                 "displayName":"Alice Liddell","locale":"en-US","externalId":"00u1abcd","groups":[],"active":true}""");
        assertEquals(201, created.status(), created.raw());
        String id = created.body().path("id").asText();
        assertEquals("User", created.body().path("meta").path("resourceType").asText());
        assertEquals(1, scim("GET", "/Users?filter=" + q("userName eq \"ALICE@example.com\""), null).body().path("totalResults").asInt(),
                "userName is compared without case");
        assertEquals(409, scim("POST", "/Users", "{\"userName\":\"Alice@Example.com\"}").status(), "a taken userName");

        String key = keyOwnedBy("user:alice@example.com");
        assertEquals(200, chat(key));
        JsonNode byOwner = h.admin().get("admin/spend?group_by=owner").body();
        assertEquals("user:alice@example.com", byOwner.path("rows").get(0).path("owner").asText(), byOwner.toString());
        assertEquals(byOwner.path("total_cost_micros").asLong(), h.admin().get("admin/spend?owner=" + q("user:alice@example.com")).body()
                .path("total_cost_micros").asLong(), "spend by owner, and filtered to one");
        assertTrue(byOwner.path("total_cost_micros").asLong() > 0);
        assertEquals(400, h.admin().post("admin/keys", FakeUpstream.JSON.createObjectNode().put("policy", "demo").put("name", "x")
                .put("owner", "user:nobody@example.com")).status(), "an owner the directory does not know");

        // Groups: create, then add the member.
        Reply group = scim("POST", "/Groups", "{\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:Group\"],\"displayName\":\"search-team\",\"members\":[]}");
        assertEquals(201, group.status(), group.raw());
        String gid = group.body().path("id").asText();
        Reply added = scim("PATCH", "/Groups/" + gid, """
                {"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                 "Operations":[{"op":"add","path":"members","value":[{"value":"%s","display":"alice@example.com"}]}]}""".formatted(id));
        assertEquals(200, added.status(), added.raw());
        assertEquals(id, scim("GET", "/Groups/" + gid, null).body().path("members").get(0).path("value").asText());

        // Deactivation, Okta's way: replace without a path.
        Reply off = scim("PATCH", "/Users/" + id, """
                {"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"active":false}}]}""");
        assertEquals(200, off.status(), off.raw());
        assertEquals(false, off.body().path("active").asBoolean(true));
        assertEquals(401, chat(key), "the deactivated user's key is refused on its next request");
        String audit = h.admin().get("admin/audit?type=admin").raw();
        assertTrue(audit.contains("\"actor\":\"scim\",\"action\":\"keys.revoke\"") && audit.contains("revoked: SCIM PATCH /Users/" + id + " (user deactivated)"), audit);
        assertEquals(400, h.admin().post("admin/keys", FakeUpstream.JSON.createObjectNode().put("policy", "demo").put("name", "x")
                .put("owner", "user:alice@example.com")).status(), "no new key for a deactivated user");

        // The directory survives a restart.
        h.restart();
        assertEquals(false, scim("GET", "/Users/" + id, null).body().path("active").asBoolean(true));
        assertEquals(1, scim("GET", "/Groups/" + gid, null).body().path("members").size());
    }

    @Test
    void entraIdsSequenceEndsWithTheDeletedGroupsKeysRefused() throws Exception {
        Reply created = scim("POST", "/Users", """
                {"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
                 "externalId":"bob","userName":"bob@contoso.com","active":true,"displayName":"Bob",
                 "emails":[{"primary":true,"type":"work","value":"bob@contoso.com"}],"meta":{"resourceType":"User"},
                 "name":{"formatted":"Bob","familyName":"B","givenName":"Bob"}}""");
        assertEquals(201, created.status(), created.raw());
        String id = created.body().path("id").asText();
        Reply group = scim("POST", "/Groups", """
                {"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"externalId":"8aa1a0c0","displayName":"Support Bots","members":[]}""");
        String gid = group.body().path("id").asText();
        assertEquals(200, scim("PATCH", "/Groups/" + gid, """
                {"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Add","path":"members","value":[{"value":"%s"}]}]}"""
                .formatted(id)).status());
        String userKey = keyOwnedBy("user:bob@contoso.com");
        String groupKey = keyOwnedBy("group:support bots");
        assertEquals("group:Support Bots", groupOwner(), "spelled as the directory spells it");

        // Entra renames the group: its keys follow.
        assertEquals(200, scim("PATCH", "/Groups/" + gid, """
                {"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Replace","path":"displayName","value":"Support Agents"}]}""").status());
        assertEquals("group:Support Agents", groupOwner());

        // Entra removes the member with a value array, then disables the user with a string "False".
        Reply removed = scim("PATCH", "/Groups/" + gid, """
                {"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Remove","path":"members","value":[{"value":"%s"}]}]}"""
                .formatted(id));
        assertEquals(200, removed.status(), removed.raw());
        assertEquals(0, removed.body().path("members").size());
        assertEquals(200, chat(groupKey), "leaving a group ends no key of the group");
        Reply off = scim("PATCH", "/Users/" + id, """
                {"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Replace","path":"active","value":"False"}]}""");
        assertEquals(200, off.status(), off.raw());
        assertEquals(false, off.body().path("active").asBoolean(true), "\"False\" is false");
        assertEquals(401, chat(userKey));
        assertEquals(200, chat(groupKey));

        // Deleting the group revokes its keys.
        assertEquals(204, scim("DELETE", "/Groups/" + gid, null).status());
        assertEquals(401, chat(groupKey), "the deleted group's key is refused on its next request");
        assertEquals(404, scim("GET", "/Groups/" + gid, null).status());
        assertEquals(204, scim("DELETE", "/Users/" + id, null).status());
        assertEquals(404, scim("GET", "/Users/" + id, null).status());
    }

    @Test
    void theServiceProviderDescribesItselfPagesAndFiltersAndRefusesStrangers() throws Exception {
        Reply config = scim("GET", "/ServiceProviderConfig", null);
        assertEquals(200, config.status());
        assertTrue(config.body().path("patch").path("supported").asBoolean() && config.body().path("filter").path("supported").asBoolean());
        assertEquals(2, scim("GET", "/ResourceTypes", null).body().path("Resources").size());
        assertEquals("urn:ietf:params:scim:schemas:core:2.0:User", scim("GET", "/Schemas", null).body().path("Resources").get(0).path("id").asText());
        assertEquals(200, scim("GET", "/Schemas/urn:ietf:params:scim:schemas:core:2.0:Group", null).status());
        for (int i = 0; i < 5; i++) assertEquals(201, scim("POST", "/Users", "{\"userName\":\"u" + i + "@example.com\"}").status());
        Reply page = scim("GET", "/Users?startIndex=3&count=2", null);
        assertEquals(5, page.body().path("totalResults").asInt());
        assertEquals(2, page.body().path("itemsPerPage").asInt());
        assertEquals("u2@example.com", page.body().path("Resources").get(0).path("userName").asText());
        assertEquals(1, scim("GET", "/Users?filter=" + q("userName sw \"u4\""), null).body().path("totalResults").asInt());
        Reply bad = scim("GET", "/Users?filter=" + q("userName eq"), null);
        assertEquals(400, bad.status());
        assertEquals("invalidFilter", bad.body().path("scimType").asText());
        assertEquals("urn:ietf:params:scim:api:messages:2.0:Error", bad.body().path("schemas").get(0).asText());
        assertEquals(400, scim("POST", "/Groups", "{\"displayName\":\"g\",\"members\":[{\"value\":\"no-such-user\"}]}").status());
        assertEquals(400, scim("POST", "/Users", "{\"userName\":\"\"}").status());

        String admin = h.gateway.adminToken();
        HttpResponse<String> stranger = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + h.gateway.adminAddress().getPort() + "/scim/v2/Users"))
                .header("Authorization", "Bearer " + admin).build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(401, stranger.statusCode(), "the admin token is not the SCIM token");
        // ... and the SCIM token is no admin token.
        HttpResponse<String> scimAsAdmin = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + h.gateway.adminAddress().getPort() + "/admin/keys"))
                .header("Authorization", "Bearer " + scimToken).build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(401, scimAsAdmin.statusCode());
    }
}
