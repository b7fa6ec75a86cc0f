package keyguard.identity;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import keyguard.admin.AdminClient;
import keyguard.admin.OidcConfig;
import keyguard.gateway.FakeUpstream;
import keyguard.gateway.GatewayHarness;
import no.nav.security.mock.oauth2.MockOAuth2Server;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Self-service and service accounts against a real gateway: people signed in through the
 * identity provider (mock-oauth2-server's signed JWTs) and provisioned over SCIM issue keys
 * within their groups' grants, see their own and their groups' keys and nobody else's, and
 * lose a group's keys the moment SCIM removes them from it; a service account's keys
 * outlive the person who made them and end with the group that owns the account.
 */
class SelfServiceTest {
    static final String GRANTS = """
            {"grants": [{"group": "search-team", "policies": ["demo"], "max_lifetime": "7d", "max_keys": 2}]}""";

    GatewayHarness h;
    MockOAuth2Server idp;
    String scimToken;
    final HttpClient http = HttpClient.newHttpClient();

    @BeforeEach
    void start(@TempDir Path tmp) throws Exception {
        idp = new MockOAuth2Server();
        idp.start();
        h = new GatewayHarness(tmp);
        h.oidc = new OidcConfig(idp.issuerUrl("default").toString(), "keyguard", null, "groups", Set.of("kg-admins"), Set.of(),
                Map.of("team-all", Set.of("all"))).withSelfService(SelfService.parse(GRANTS, "grants"));
        h.restart();
        scimToken = Files.readString(h.data.resolve("scim.token")).strip();
    }

    @AfterEach
    void stop() {
        h.close();
        idp.shutdown();
    }

    /** A person's token as Okta or Keycloak issues it: the login in preferred_username, groups in `groups`. */
    AdminClient as(String userName, String... groups) {
        String token = idp.issueToken("default", "00u-" + userName.hashCode(), "keyguard",
                Map.of("preferred_username", userName, "groups", List.of(groups)), 3600).serialize();
        return new AdminClient(URI.create("http://127.0.0.1:" + h.gateway.adminAddress().getPort() + "/"), token);
    }

    JsonNode scim(String method, String path, String body) throws Exception {
        HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + h.gateway.adminAddress().getPort() + "/scim/v2" + path))
                .header("Authorization", "Bearer " + scimToken).header("Content-Type", "application/scim+json")
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body)).build(),
                HttpResponse.BodyHandlers.ofString());
        assertTrue(r.statusCode() < 300, method + " " + path + ": " + r.statusCode() + " " + r.body());
        return r.body().isBlank() ? FakeUpstream.JSON.createObjectNode() : FakeUpstream.JSON.readTree(r.body());
    }

    String user(String userName) throws Exception {
        return scim("POST", "/Users", "{\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:User\"],\"userName\":\"" + userName + "\",\"active\":true}")
                .path("id").asText();
    }

    String group(String name, String... members) throws Exception {
        StringBuilder m = new StringBuilder();
        for (String id : members) m.append(m.isEmpty() ? "" : ",").append("{\"value\":\"").append(id).append("\"}");
        return scim("POST", "/Groups", "{\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:Group\"],\"displayName\":\"" + name
                + "\",\"members\":[" + m + "]}").path("id").asText();
    }

    static ObjectNode key(String policy, String name) {
        return FakeUpstream.JSON.createObjectNode().put("policy", policy).put("name", name);
    }

    int chat(String secret) throws Exception {
        return h.post("/v1/chat/completions", secret, "{\"model\":\"sim-small\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}").statusCode();
    }

    static List<String> ids(AdminClient.Reply list) {
        List<String> out = new ArrayList<>();
        for (JsonNode k : list.body().path("keys")) out.add(k.path("id").asText());
        return out;
    }

    @Test
    void aMemberIssuesKeysForThemselvesWithinTheirGroupsGrant() throws Exception {
        String alice = user("alice@example.com");
        group("search-team", alice);
        group("other-team");
        group("reading-club", alice);
        AdminClient me = as("alice@example.com"); // no Keyguard role in the token: a member by self-service

        JsonNode session = me.get("admin/session").body();
        assertEquals("member", session.path("role").asText(), session.toString());
        assertEquals("user:alice@example.com", session.path("user").asText());
        assertEquals("demo", session.path("self_service").get(0).path("policy").asText());
        assertEquals(7 * 86_400, session.path("self_service").get(0).path("max_lifetime_seconds").asLong());
        assertEquals("[\"search-team\"]", session.path("self_service").get(0).path("owner_groups").toString(), "reading-club is granted nothing");

        AdminClient.Reply mine = me.post("admin/keys", key("demo", "laptop"));
        assertEquals(201, mine.status(), mine.raw());
        assertEquals("user:alice@example.com", mine.body().path("owner").asText(), "a self-issued key is the caller's");
        Instant expires = Instant.parse(mine.body().path("expires_at").asText());
        assertTrue(Duration.between(Instant.now(), expires).toHours() >= 167, "without expires_in, the grant's lifetime: " + expires);
        assertEquals(200, chat(mine.body().path("secret").asText()));
        assertTrue(mine.body().path("manageable").asBoolean());

        assertEquals(400, me.post("admin/keys", key("demo", "long").put("expires_in", "30d")).status(), "longer than the grant allows");
        AdminClient.Reply notGranted = me.post("admin/keys", key("all", "everything"));
        assertEquals(403, notGranted.status(), notGranted.raw());
        assertTrue(notGranted.error().contains("self-service allows [demo]"), notGranted.error());
        assertEquals(403, me.post("admin/keys", key("demo", "theirs").put("owner", "group:other-team")).status(), "not a group of hers");
        assertEquals(403, me.post("admin/keys", key("demo", "club").put("owner", "group:reading-club")).status(), "her group, but not granted the policy");
        assertEquals(400, me.post("admin/keys", key("demo", "nobody").put("owner", "user:bob@example.com")).status(), "bob is not in the directory");
        assertEquals(201, me.post("admin/keys", key("demo", "team bot").put("owner", "group:search-team")).status(), "her group's key");
        assertEquals(201, me.post("admin/keys", key("demo", "second")).status());
        AdminClient.Reply third = me.post("admin/keys", key("demo", "third"));
        assertEquals(409, third.status(), "two active keys of the policy per owner at most: " + third.raw());

        String someoneElses = h.admin().post("admin/keys", key("demo", "ops").put("owner", "ops")).body().path("id").asText();
        List<String> seen = ids(me.get("admin/keys"));
        assertEquals(3, seen.size(), seen.toString());
        assertFalse(seen.contains(someoneElses), "a member sees their own keys and their groups', no one else's");
        assertEquals(403, me.get("admin/keys/" + someoneElses).status());
        assertEquals(403, me.post("admin/keys/" + someoneElses + "/revoke", FakeUpstream.JSON.createObjectNode()).status());
        assertEquals(200, me.post("admin/keys/" + mine.body().path("id").asText() + "/revoke", FakeUpstream.JSON.createObjectNode()).status());
        assertEquals(403, me.get("admin/spend").status(), "a member reads no one's spend");

        String audit = h.admin().get("admin/audit?type=admin").raw();
        assertTrue(audit.contains("owned by user:alice@example.com (self-service)"), audit);

        // Once SCIM is in use, a person the directory does not know is nobody here, whatever their token's groups.
        assertEquals(403, as("mallory@example.com").get("admin/keys").status());
        assertEquals(403, as("carol@example.com", "search-team").post("admin/keys", key("demo", "c")).status());
        // Names fold ASCII letters only: a dotless ı is not an i.
        assertEquals(403, as("al\u0131ce@example.com").get("admin/keys").status(), "alıce is not alice");
    }

    @Test
    void removingAUserFromAGroupEndsTheirAccessToTheGroupsKeys() throws Exception {
        String bob = user("bob@example.com");
        String gid = group("search-team", bob);
        String groupKey = h.admin().post("admin/keys", key("demo", "shared").put("owner", "group:search-team")).body().path("id").asText();
        AdminClient asBob = as("bob@example.com", "search-team"); // the token still says search-team afterwards
        assertEquals(200, asBob.get("admin/keys/" + groupKey).status());
        assertEquals(201, asBob.post("admin/keys/" + groupKey + "/rotate", FakeUpstream.JSON.createObjectNode()).status(), "a member manages the group's keys");

        scim("PATCH", "/Groups/" + gid, """
                {"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"remove","path":"members[value eq \\"%s\\"]"}]}"""
                .formatted(bob));
        assertEquals(403, asBob.get("admin/keys/" + groupKey).status(), "the directory's membership wins over the token's");
        assertEquals(List.of(), ids(asBob.get("admin/keys")));
        assertEquals(403, asBob.post("admin/keys", key("demo", "b")).status(), "no grant without the group");
        assertEquals("active", h.admin().get("admin/keys/" + groupKey).body().path("state").asText(), "the group's key itself lives on");

        // Deactivated: nothing of bob's works any more, his token included.
        scim("PATCH", "/Users/" + bob, """
                {"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"active","value":false}]}""");
        AdminClient.Reply refused = asBob.get("admin/session");
        assertEquals(401, refused.status(), refused.raw());
        assertTrue(refused.error().contains("deactivated"), refused.error());
    }

    @Test
    void aServiceAccountsKeysOutliveThePersonWhoMadeThemAndEndWithItsGroup() throws Exception {
        String alice = user("alice@example.com");
        String bob = user("bob@example.com");
        String gid = group("search-team", alice, bob);
        AdminClient.Reply created = h.admin().post("admin/service-accounts", FakeUpstream.JSON.createObjectNode().put("name", "ci-bot")
                .put("group", "search-team").put("policy", "all").put("description", "CI of the search service").put("max_lifetime", "7d").put("max_keys", 1));
        assertEquals(201, created.status(), created.raw());
        assertEquals(409, h.admin().post("admin/service-accounts", FakeUpstream.JSON.createObjectNode().put("name", "ci-bot")
                .put("group", "search-team").put("policy", "all")).status());
        assertEquals(403, as("alice@example.com").post("admin/service-accounts", FakeUpstream.JSON.createObjectNode().put("name", "mine")
                .put("group", "search-team").put("policy", "demo")).status(), "a member creates no service account");

        // Alice, a member of the owning group, issues the account a key of its policy (no grant needed for it)...
        AdminClient.Reply botKey = as("alice@example.com").post("admin/keys", key("all", "ci").put("owner", "service:ci-bot"));
        assertEquals(201, botKey.status(), botKey.raw());
        assertEquals(400, as("alice@example.com").post("admin/keys", key("demo", "ci").put("owner", "service:ci-bot")).status(), "only of its policy");
        assertTrue(Duration.between(Instant.now(), Instant.parse(botKey.body().path("expires_at").asText())).toHours() <= 7 * 24,
                "a member's key of the account lives at most the account's max_lifetime");
        assertEquals(409, as("bob@example.com").post("admin/keys", key("all", "ci-2").put("owner", "service:ci-bot")).status(), "max_keys 1");
        assertEquals(201, h.admin().post("admin/keys", key("all", "ci-admin").put("owner", "service:ci-bot")).status(), "an admin is not held to it");
        // A free-text owner that happens to read service:<name> is never taken over by a new account of that name.
        // (A key of an older version, whose owner was free text: written to the store as that version left it.)
        h.gateway.keys().put(new keyguard.keys.KeyRecord("legacy000001", "legacy", "service:legacy", "demo", Map.of(), Instant.now(), null,
                keyguard.keys.KeyState.ACTIVE, "00".repeat(32), null));
        assertEquals(409, h.admin().post("admin/service-accounts", FakeUpstream.JSON.createObjectNode().put("name", "legacy")
                .put("group", "search-team").put("policy", "demo")).status());
        String herKey = as("alice@example.com").post("admin/keys", key("demo", "laptop")).body().path("secret").asText();
        // ...and leaves the company.
        scim("DELETE", "/Users/" + alice, null);
        assertEquals(401, chat(herKey), "her own key ends with her");
        String botSecret = botKey.body().path("secret").asText();
        assertEquals(200, chat(botSecret), "the service account's key does not");

        JsonNode list = as("bob@example.com").get("admin/service-accounts").body();
        assertEquals("ci-bot", list.path("service_accounts").get(0).path("name").asText(), list.toString());
        assertEquals(2, list.path("service_accounts").get(0).path("active_keys").asInt());
        JsonNode one = as("bob@example.com").get("admin/service-accounts/ci-bot").body();
        assertEquals(botKey.body().path("id").asText(), one.path("keys").get(0).path("id").asText(), "listed under the owning group");
        assertEquals(403, as("mallory@example.com").get("admin/service-accounts").status());
        assertEquals(403, as("alice@example.com").get("admin/session").status(), "deleted: her token opens nothing");

        // The group is dissolved: the account and its keys go with it.
        scim("DELETE", "/Groups/" + gid, null);
        assertEquals(401, chat(botSecret));
        assertEquals(404, h.admin().get("admin/service-accounts/ci-bot").status());
        assertTrue(h.admin().get("admin/audit?type=admin").raw().contains("\"action\":\"service_accounts.delete\""));
    }

    static String[] cli(String... args) {
        java.io.StringWriter out = new java.io.StringWriter();
        java.io.StringWriter err = new java.io.StringWriter();
        int code = keyguard.cli.Main.run(new java.io.PrintWriter(out, true), new java.io.PrintWriter(err, true), args);
        return new String[] {Integer.toString(code), out.toString(), err.toString()};
    }

    @Test
    void theCliManagesServiceAccounts() throws Exception {
        group("search-team", user("alice@example.com"));
        String admin = "http://127.0.0.1:" + h.gateway.adminAddress().getPort();
        String data = h.data.toString();
        String[] created = cli("service-accounts", "create", "--admin", admin, "--data", data, "--name", "nightly", "--group", "search-team",
                "--policy", "demo", "--max-keys", "2", "--description", "nightly batch");
        assertEquals("0", created[0], created[2]);
        assertTrue(created[1].contains("keyguard keys create --owner service:nightly --policy demo"), created[1]);
        String[] key = cli("keys", "create", "--admin", admin, "--data", data, "--owner", "service:nightly", "--policy", "demo");
        assertEquals("0", key[0], key[2]);
        assertTrue(key[1].contains("owned by service:nightly"), key[1]);
        String id = key[1].split(" ")[2];
        String[] list = cli("service-accounts", "list", "--admin", admin, "--data", data);
        assertTrue(list[1].matches("(?s).*nightly\\s+search-team\\s+demo\\s+1\\s.*"), list[1]);
        String[] show = cli("service-accounts", "show", "nightly", "--admin", admin, "--data", data);
        assertTrue(show[1].contains("at most 2 active") && show[1].contains(id), show[1]);
        String[] deleted = cli("service-accounts", "delete", "nightly", "--admin", admin, "--data", data);
        assertEquals("0", deleted[0], deleted[2]);
        assertTrue(deleted[1].contains(id), deleted[1]);
        assertEquals("revoked", h.admin().get("admin/keys/" + id).body().path("state").asText());
        assertEquals("1", cli("service-accounts", "show", "nightly", "--admin", admin, "--data", data)[0], "gone");
    }

    @Test
    void anAdminTheDirectoryDoesNotKnowStillCreatesKeysOwnedByThemselves() throws Exception {
        user("alice@example.com"); // SCIM in use
        AdminClient root = as("root@example.com", "kg-admins");
        AdminClient.Reply r = root.post("admin/keys", key("demo", "ops"));
        assertEquals(201, r.status(), r.raw());
        assertEquals("user:root@example.com", r.body().path("owner").asText(), "the role comes from the token; the owner is who made it");
    }

    @Test
    void theOperatorNamesTheClaimThatNamesAPerson() throws Exception {
        user("alice@example.com");
        user("mallory@example.com");
        h.oidc = h.oidc.withUsernameClaim("email");
        h.restart();
        // preferred_username is what the person may edit at this provider; email is what it vouches for.
        String token = idp.issueToken("default", "00u-x", "keyguard", Map.of("preferred_username", "alice@example.com",
                "email", "mallory@example.com", "groups", List.of()), 3600).serialize();
        JsonNode session = new AdminClient(URI.create("http://127.0.0.1:" + h.gateway.adminAddress().getPort() + "/"), token).get("admin/session").body();
        assertEquals("user:mallory@example.com", session.path("user").asText(), session.toString());
    }

    @Test
    void theSelfServiceFileRefusesWhatItDoesNotUnderstand() {
        assertEquals(1, SelfService.parse(GRANTS, "f").allowances(List.of("SEARCH-TEAM")).size(), "groups compare without case");
        for (String bad : List.of("{}x", "{\"grants\": {}}", "{\"grant\": []}", "{\"grants\": [{\"group\": \"g\"}]}",
                "{\"grants\": [{\"group\": \"g\", \"policies\": [\"p\"], \"max_lifetime\": \"10y\"}]}",
                "{\"grants\": [{\"group\": \"g\", \"policies\": [\"p\"], \"max_keys\": 0}]}",
                "{\"grants\": [{\"group\": \"g\", \"policies\": [\"p\"], \"max_key\": 3}]}")) {
            assertThrows(IllegalArgumentException.class, () -> SelfService.parse(bad, "f"), bad);
        }
    }

    @Test
    void aTeamAdminCannotBookSpendOnAnotherTeamsBudget() throws Exception {
        Files.writeString(h.platform.resolve("org.kgp"), "team search { groups [\"search-team\"] }\nteam other { groups [\"other-team\"] }\n");
        h.restart();
        String ada = user("ada");
        group("search-team", ada);
        group("other-team");
        AdminClient lead = as("ada", "team-all"); // a team admin of policy `all`, a member of search-team only
        AdminClient.Reply theirs = lead.post("admin/keys", key("all", "theirs").put("owner", "group:other-team"));
        assertEquals(403, theirs.status(), "a key of another team's group would charge that team: " + theirs.raw());
        assertTrue(theirs.error().contains("a group of team `other` you are not in"), theirs.raw());
        AdminClient.Reply ours = lead.post("admin/keys", key("all", "ours").put("owner", "group:search-team"));
        assertEquals(201, ours.status(), ours.raw());
        assertEquals("search", ours.body().path("team").asText(), "fixed when the key is made");
        assertEquals(201, h.admin().post("admin/keys", key("all", "by an admin").put("owner", "group:other-team")).status());
        AdminClient.Reply account = lead.post("admin/service-accounts", FakeUpstream.JSON.createObjectNode().put("name", "their-bot")
                .put("group", "other-team").put("policy", "all"));
        assertEquals(403, account.status(), account.raw());
        assertEquals(201, lead.post("admin/service-accounts", FakeUpstream.JSON.createObjectNode().put("name", "our-bot")
                .put("group", "search-team").put("policy", "all")).status());
    }
}
