package keyguard.organisation;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import keyguard.gateway.FakeUpstream;
import keyguard.gateway.GatewayHarness;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Sub-keys through a real gateway: minted by a key with its own secret
 * ({@code POST /v1/keyguard/keys}), only ever narrower than their parent (models, lifetime,
 * the root's counters), bounded in number and depth by the policy's {@code delegate}, and
 * ended with any key above them.
 */
class SubKeysTest {
    GatewayHarness h;

    @BeforeEach
    void start(@TempDir Path tmp) throws Exception {
        h = new GatewayHarness(tmp, false);
        // Noon UTC, ticking: a carve-out is of the parent's current day, and a test near midnight would cross it.
        java.time.Instant now = java.time.Instant.now();
        h.clock = java.time.Clock.offset(java.time.Clock.systemUTC(), Duration.between(now, now.truncatedTo(java.time.temporal.ChronoUnit.DAYS).plusSeconds(43_200)));
        Files.writeString(h.policies.resolve("agents.kgp"), """
                policy agents {
                  models allow ["sim-small", "up-ok"]
                  limit requests 5 per 1h by key
                  delegate max 2 depth 2
                }

                policy plain { models allow ["sim-small"] }

                policy carving {
                  models allow ["pricey", "sim-small"]
                  budget 1.00 usd per day hard by key
                  delegate max 3 depth 2
                }

                policy carving_twice {
                  models allow ["pricey"]
                  budget 1.00 usd per day hard by key
                  budget 3.00 usd per month hard by key
                  delegate max 3 depth 1
                }
                """);
        Files.writeString(h.platform.resolve("pricey.kgp"), """
                model "pricey" { provider up upstream "ok" price input 10000 usd per 1m tokens, output 10000 usd per 1m tokens max_class internal }
                """);
        h.start();
    }

    @AfterEach
    void stop() {
        h.close();
    }

    String adminKey(String policy, String expiresIn) throws Exception {
        ObjectNode body = FakeUpstream.JSON.createObjectNode().put("policy", policy).put("name", "parent");
        if (expiresIn != null) body.put("expires_in", expiresIn);
        return h.admin().post("admin/keys", body).body().path("secret").asText();
    }

    HttpResponse<String> mint(String parent, String body) throws Exception {
        return h.post("/v1/keyguard/keys", parent, body);
    }

    HttpResponse<String> chat(String key, String model) throws Exception {
        return h.post("/v1/chat/completions", key, "{\"model\":\"" + model + "\",\"max_tokens\":20,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}");
    }

    HttpResponse<String> revoke(String by, String id) throws Exception {
        return h.http.send(HttpRequest.newBuilder(URI.create(h.base() + "/v1/keyguard/keys/" + id)).header("authorization", "Bearer " + by)
                .timeout(Duration.ofSeconds(10)).DELETE().build(), HttpResponse.BodyHandlers.ofString());
    }

    /** What a key's day budget holds now, in micro-dollars ({@code /admin/keys/ID/usage}). */
    long dayBudgetUsed(String keyId) throws Exception {
        return budgetUsed(keyId, "budget.key.day");
    }

    long budgetUsed(String keyId, String budget) throws Exception {
        for (JsonNode l : h.admin().get("admin/keys/" + keyId + "/usage").body().path("limits")) {
            if (l.path("id").asText().equals(budget)) return l.path("used_micros").asLong();
        }
        throw new AssertionError("no " + budget + " for " + keyId);
    }

    static JsonNode json(HttpResponse<String> r) throws Exception {
        return FakeUpstream.JSON.readTree(r.body());
    }

    @Test
    void aSubKeyCanOnlyNarrowItsParent() throws Exception {
        String parent = adminKey("agents", "1h");
        HttpResponse<String> minted = mint(parent, "{\"name\":\"summariser\",\"models\":[\"sim-small\"],\"expires_in\":\"10m\"}");
        assertEquals(201, minted.statusCode(), minted.body());
        String child = json(minted).path("secret").asText();
        assertEquals(1, json(minted).path("depth").asInt());
        assertEquals("agents", json(minted).path("policy").asText());

        assertEquals(200, chat(child, "sim-small").statusCode());
        HttpResponse<String> other = chat(child, "up-ok");
        assertEquals(403, other.statusCode(), "a model its parent may call, but it may not");
        assertEquals("this sub-key may call only [sim-small], not `up-ok`", json(other).path("error").path("message").asText());

        HttpResponse<String> wider = mint(parent, "{\"name\":\"x\",\"models\":[\"claude\"]}");
        assertEquals(403, wider.statusCode());
        assertEquals("delegation_not_allowed", json(wider).path("error").path("code").asText());
        assertTrue(json(wider).path("error").path("message").asText().startsWith("a sub-key may call only models its parent may"), wider.body());
        HttpResponse<String> longer = mint(parent, "{\"name\":\"x\",\"expires_in\":\"2h\"}");
        assertEquals(403, longer.statusCode(), "it expires no later than its parent: " + longer.body());
        assertEquals(400, mint(parent, "{\"models\":[\"sim-small\"]}").statusCode(), "a name is required");
        assertEquals(400, mint(parent, "not json").statusCode());

        // The family shares the parent's counters: 2 (the child's, the refused one counted too) + 3 (parent) = 5 per hour,
        // then both are throttled.
        for (int i = 0; i < 3; i++) assertEquals(200, chat(parent, "sim-small").statusCode());
        HttpResponse<String> sixth = chat(child, "sim-small");
        assertEquals(429, sixth.statusCode(), sixth.body());
        assertEquals(429, chat(parent, "sim-small").statusCode());

        // The child's requests are audited as its own, under its root.
        String childId = json(minted).path("id").asText();
        boolean seen = false;
        for (String line : h.admin().get("admin/audit?type=decision").raw().split("\n")) {
            if (line.isBlank()) continue;
            JsonNode e = FakeUpstream.JSON.readTree(line);
            if (e.path("key_id").asText().equals(childId)) {
                seen = true;
                assertEquals(json(minted).path("parent").asText(), e.path("root_key_id").asText(), line);
            }
        }
        assertTrue(seen);
        JsonNode spend = h.admin().get("admin/spend?group_by=root_key").body();
        assertEquals(1, spend.path("rows").size(), "the family's spend is one group, under its root: " + spend);
    }

    @Test
    void howManyAndHowDeepThePolicySays() throws Exception {
        String parent = adminKey("agents", null);
        JsonNode first = json(mint(parent, "{\"name\":\"a\"}"));
        assertEquals(201, mint(parent, "{\"name\":\"b\"}").statusCode());
        HttpResponse<String> third = mint(parent, "{\"name\":\"c\"}");
        assertEquals(403, third.statusCode());
        assertTrue(json(third).path("error").path("message").asText().startsWith("this key holds 2 active sub-keys, the most policy `agents` allows"), third.body());

        String child = first.path("secret").asText();
        HttpResponse<String> grandchild = mint(child, "{\"name\":\"a1\",\"models\":[\"sim-small\"]}");
        assertEquals(201, grandchild.statusCode(), grandchild.body());
        assertEquals(2, json(grandchild).path("depth").asInt());
        assertEquals(json(mint(parent, "{\"name\":\"d\"}")).path("error").path("code").asText(), "delegation_not_allowed");
        HttpResponse<String> tooDeep = mint(json(grandchild).path("secret").asText(), "{\"name\":\"a11\"}");
        assertEquals(403, tooDeep.statusCode());
        assertTrue(json(tooDeep).path("error").path("message").asText().contains("3 levels below its root; policy `agents` allows 2"), tooDeep.body());
        HttpResponse<String> grandchildWider = mint(child, "{\"name\":\"a2\",\"models\":[\"sim-small\",\"up-ok\"]}");
        assertEquals(201, grandchildWider.statusCode(), "the child may pass on every model it has");

        HttpResponse<String> none = mint(adminKey("plain", null), "{\"name\":\"x\"}");
        assertEquals(403, none.statusCode());
        assertTrue(json(none).path("error").path("message").asText().contains("lets its keys mint no sub-keys"), none.body());
    }

    @Test
    void revokingAKeyEndsEverySubKeyBelowIt() throws Exception {
        String parent = adminKey("agents", null);
        JsonNode child = json(mint(parent, "{\"name\":\"a\"}"));
        JsonNode grandchild = json(mint(child.path("secret").asText(), "{\"name\":\"a1\"}"));
        JsonNode sibling = json(mint(parent, "{\"name\":\"b\"}"));
        assertEquals(200, chat(grandchild.path("secret").asText(), "sim-small").statusCode());

        // The parent revokes one child (and what is below it); a key cannot revoke one not below it.
        HttpResponse<String> notMine = h.http.send(HttpRequest.newBuilder(URI.create(h.base() + "/v1/keyguard/keys/" + sibling.path("id").asText()))
                .header("authorization", "Bearer " + child.path("secret").asText()).timeout(Duration.ofSeconds(10)).DELETE().build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(404, notMine.statusCode(), notMine.body());
        HttpResponse<String> revoked = h.http.send(HttpRequest.newBuilder(URI.create(h.base() + "/v1/keyguard/keys/" + child.path("id").asText()))
                .header("authorization", "Bearer " + parent).timeout(Duration.ofSeconds(10)).DELETE().build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(200, revoked.statusCode(), revoked.body());
        assertEquals(grandchild.path("id").asText(), json(revoked).path("sub_keys_revoked").get(0).asText());
        HttpResponse<String> ended = chat(grandchild.path("secret").asText(), "sim-small");
        assertEquals(401, ended.statusCode());
        assertEquals(200, chat(sibling.path("secret").asText(), "sim-small").statusCode());

        // An admin revoking the root ends every key below it at once.
        String rootId = sibling.path("parent").asText();
        assertEquals(200, h.admin().post("admin/keys/" + rootId + "/revoke", FakeUpstream.JSON.createObjectNode()).status());
        HttpResponse<String> orphan = chat(sibling.path("secret").asText(), "sim-small");
        assertEquals(401, orphan.statusCode());
        assertEquals("API key `" + sibling.path("id").asText() + "` has been revoked", json(orphan).path("error").path("message").asText(),
                "recorded on the sub-key too (and refused anyway while any key above it is revoked)");
        // A revocation that reached a node before its sub-keys' (a fleet applies changes one by one) already refuses them.
        JsonNode other = json(mint(adminKey("agents", null), "{\"name\":\"c\"}"));
        keyguard.keys.KeyStore store = h.gateway.keys();
        store.put(store.get(other.path("parent").asText()).withState(keyguard.keys.KeyState.REVOKED)); // the parent alone, no cascade
        HttpResponse<String> cut = chat(other.path("secret").asText(), "sim-small");
        assertEquals(401, cut.statusCode());
        assertEquals("API key `" + other.path("id").asText() + "` is a sub-key of `" + other.path("parent").asText() + "`, which is revoked or expired",
                json(cut).path("error").path("message").asText());
        Map<String, String> states = new HashMap<>();
        for (JsonNode k : h.admin().get("admin/keys").body().path("keys")) states.put(k.path("id").asText(), k.path("state").asText());
        assertEquals("revoked", states.get(sibling.path("id").asText()), "recorded as revoked: " + states);
    }

    @Test
    void aCarveOutIsReservedFromTheParentsBudgetCapsTheChildAndComesBackOnRevoke() throws Exception {
        String parent = adminKey("carving", null);
        JsonNode minted = json(mint(parent, "{\"name\":\"summariser\",\"budget_usd\":\"0.50\",\"expires_in\":\"10m\"}"));
        String parentId = minted.path("parent").asText();
        String childId = minted.path("id").asText();
        assertEquals("0.5", minted.path("budget_usd").asText(), minted.toString());
        assertEquals(500_000, dayBudgetUsed(parentId), "the parent's remaining budget falls by the carve-out");
        assertEquals(0, dayBudgetUsed(childId), "the child's own budget is its carve-out, nothing spent yet");

        HttpResponse<String> tooBig = mint(parent, "{\"name\":\"greedy\",\"budget_usd\":\"0.70\"}");
        assertEquals(403, tooBig.statusCode(), tooBig.body());
        assertEquals("a carve-out of 0.7 usd does not fit in budget.key.day of this key: 0.5 usd of 1 usd is left",
                json(tooBig).path("error").path("message").asText());
        assertEquals(400, mint(parent, "{\"name\":\"x\",\"budget_usd\":\"-1\"}").statusCode());
        assertEquals(400, mint(parent, "{\"name\":\"x\",\"budget_usd\":\"0.0000001\"}").statusCode(), "at most six decimals");
        HttpResponse<String> uncarvable = mint(adminKey("agents", null), "{\"name\":\"x\",\"budget_usd\":\"0.10\"}");
        assertEquals(403, uncarvable.statusCode());
        assertTrue(json(uncarvable).path("error").path("message").asText().contains("has no budget by key to carve from"), uncarvable.body());
        HttpResponse<String> pastTheDay = mint(parent, "{\"name\":\"x\",\"budget_usd\":\"0.10\",\"expires_in\":\"2d\"}");
        assertEquals(403, pastTheDay.statusCode(), "a carve-out is of the parent's current period: " + pastTheDay.body());

        // Each request spends 0.16 usd and reserves more than 0.18 (its 20 output tokens): the child's spend stops at its
        // carve-out, 0.32 of 0.50.
        String child = minted.path("secret").asText();
        assertEquals(200, chat(child, "pricey").statusCode());
        assertEquals(200, chat(child, "pricey").statusCode());
        HttpResponse<String> stopped = chat(child, "pricey");
        assertEquals(429, stopped.statusCode(), stopped.body());
        assertEquals("insufficient_quota", json(stopped).path("error").path("code").asText());
        assertTrue(json(stopped).path("error").path("message").asText().contains("carve-out of 0.5 usd of this sub-key is exhausted"), stopped.body());
        assertEquals(320_000, dayBudgetUsed(childId));
        assertEquals(500_000, dayBudgetUsed(parentId), "the child's spend is inside its carve-out, not charged to the parent twice");

        // The parent spends the rest of its own; the child's carve-out stays out of its reach.
        assertEquals(200, chat(parent, "pricey").statusCode());
        assertEquals(660_000, dayBudgetUsed(parentId));

        // Revoked by its parent: the unspent 0.18 comes back at once.
        HttpResponse<String> revoked = revoke(parent, childId);
        assertEquals(200, revoked.statusCode(), revoked.body());
        assertEquals("0.18", json(revoked).path("budget_returned_usd").asText(), revoked.body());
        assertEquals(480_000, dayBudgetUsed(parentId), "the parent's remaining budget recovers by what the child did not spend");

        // A sub-key that expires gives its carve-out back too (the sweep, within a few seconds).
        JsonNode brief = json(mint(parent, "{\"name\":\"brief\",\"budget_usd\":\"0.20\",\"expires_in\":\"1s\"}"));
        assertEquals(201, mint(parent, "{\"name\":\"n\",\"budget_usd\":\"0.01\"}").statusCode());
        assertEquals(690_000, dayBudgetUsed(parentId));
        long deadline = System.nanoTime() + Duration.ofSeconds(15).toNanos();
        while (dayBudgetUsed(parentId) != 490_000) {
            if (System.nanoTime() > deadline) throw new AssertionError("the expired carve-out was not returned: " + dayBudgetUsed(parentId));
            Thread.sleep(100);
        }
        assertEquals(401, chat(brief.path("secret").asText(), "pricey").statusCode());
        boolean audited = false;
        for (String line : h.admin().get("admin/audit?type=admin").raw().split("\n")) {
            if (line.contains("keys.carve_out.return") && line.contains(brief.path("id").asText())) audited = true;
        }
        assertTrue(audited, "the return is in the audit log");
    }

    @Test
    void aGrandchildCarvesFromItsParentsCarveOutAndNeverBeyondIt() throws Exception {
        String root = adminKey("carving", null);
        JsonNode child = json(mint(root, "{\"name\":\"a\",\"budget_usd\":\"0.80\"}"));
        String childSecret = child.path("secret").asText();
        String rootId = child.path("parent").asText();
        HttpResponse<String> over = mint(childSecret, "{\"name\":\"a1\",\"budget_usd\":\"0.90\"}");
        assertEquals(403, over.statusCode(), "beyond the child's own carve-out: " + over.body());
        JsonNode grandchild = json(mint(childSecret, "{\"name\":\"a1\",\"budget_usd\":\"0.36\"}"));
        assertEquals(360_000, dayBudgetUsed(child.path("id").asText()), "reserved from the child's carve-out");
        assertEquals(800_000, dayBudgetUsed(rootId), "and not again from the root's budget");
        assertEquals(200, chat(grandchild.path("secret").asText(), "pricey").statusCode());
        // A sub-key without a carve-out spends from the nearest carve-out above it.
        JsonNode plain = json(mint(childSecret, "{\"name\":\"a2\"}"));
        assertEquals(200, chat(plain.path("secret").asText(), "pricey").statusCode());
        assertEquals(520_000, dayBudgetUsed(child.path("id").asText()));

        // Revoking the child returns the grandchild's unspent part to the child, then all the child did not spend to the root.
        HttpResponse<String> revoked = revoke(root, child.path("id").asText());
        assertEquals(200, revoked.statusCode(), revoked.body());
        assertEquals(320_000, dayBudgetUsed(rootId), "0.80 carved, 0.32 spent by its family: 0.48 returned");
    }

    @Test
    void aCarveOutIsReservedOnEveryBudgetByKeyAndReturnedToEachWhenAnAdminRevokesTheSubKey() throws Exception {
        String parent = adminKey("carving_twice", null);
        JsonNode child = json(mint(parent, "{\"name\":\"a\",\"budget_usd\":\"0.50\"}"));
        String parentId = child.path("parent").asText();
        assertEquals(500_000, budgetUsed(parentId, "budget.key.day"));
        assertEquals(500_000, budgetUsed(parentId, "budget.key.month"));
        List<String> origins = new ArrayList<>();
        for (JsonNode l : h.admin().get("admin/keys/" + child.path("id").asText() + "/usage").body().path("limits")) {
            if (l.path("id").asText().startsWith("budget.key.")) origins.add(l.path("origin").asText() + " " + l.path("cap_usd").asText());
        }
        assertEquals(List.of("carve-out 0.5", "carve-out 0.5"), origins);
        assertEquals(200, chat(child.path("secret").asText(), "pricey").statusCode());
        assertEquals(160_000, budgetUsed(child.path("id").asText(), "budget.key.month"));

        // An admin revokes it: the sweep returns what it did not spend to both budgets.
        assertEquals(200, h.admin().post("admin/keys/" + child.path("id").asText() + "/revoke", FakeUpstream.JSON.createObjectNode()).status());
        long deadline = System.nanoTime() + Duration.ofSeconds(15).toNanos();
        while (budgetUsed(parentId, "budget.key.month") != 160_000 || budgetUsed(parentId, "budget.key.day") != 160_000) {
            if (System.nanoTime() > deadline) throw new AssertionError("not returned: " + budgetUsed(parentId, "budget.key.month"));
            Thread.sleep(100);
        }
    }

    @Test
    void aCarveOutHoldsAcrossARestartAndIsReturnedAfterIt() throws Exception {
        String parent = adminKey("carving", null);
        JsonNode child = json(mint(parent, "{\"name\":\"a\",\"budget_usd\":\"0.50\"}"));
        String parentId = child.path("parent").asText();
        assertEquals(200, chat(child.path("secret").asText(), "pricey").statusCode());
        h.restart(); // the reservation and the sub-key's spend are in the counter files, the carve-out on the key record
        assertEquals(500_000, dayBudgetUsed(parentId));
        assertEquals(160_000, dayBudgetUsed(child.path("id").asText()));
        assertEquals(200, chat(child.path("secret").asText(), "pricey").statusCode());
        assertEquals(429, chat(child.path("secret").asText(), "pricey").statusCode(), "0.32 spent: the next reservation does not fit in 0.50");
        HttpResponse<String> revoked = revoke(parent, child.path("id").asText());
        assertEquals("0.18", json(revoked).path("budget_returned_usd").asText(), revoked.body());
        assertEquals(320_000, dayBudgetUsed(parentId));
    }
}
