package keyguard.organisation;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import keyguard.admin.AdminClient;
import keyguard.gateway.FakeUpstream;
import keyguard.gateway.GatewayHarness;
import keyguard.keys.KeyRecord;
import keyguard.keys.KeyState;
import keyguard.policy.Money;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Teams and org units through a real gateway: the operator's {@code org} and {@code team}
 * budgets bind every key of the team whatever its policy, a policy's {@code by team} budget
 * shares the team's counter, concurrent requests of two teams never take an org unit or a
 * team past its cap, and spend grouped by org equals the sum of its teams.
 */
class HierarchyTest {
    /** Each request of the fake upstream uses 11 + 5 tokens: at 10,000 usd per 1m tokens, 0.16 usd. */
    static final long COST = 160_000;
    static final long ORG_CAP = Money.micros(new java.math.BigDecimal("2.00"));
    static final long TEAM_CAP = Money.micros(new java.math.BigDecimal("1.50"));

    GatewayHarness h;

    @BeforeEach
    void start(@TempDir Path tmp) throws Exception {
        h = new GatewayHarness(tmp, false);
        Files.writeString(h.platform.resolve("org.kgp"), """
                model "pricey" { provider up upstream "ok" price input 10000 usd per 1m tokens, output 10000 usd per 1m tokens max_class internal }

                org engineering {
                  budget 2.00 usd per day hard
                }

                team search {
                  org    engineering
                  groups ["search-eng"]
                  budget 1.50 usd per day hard
                }

                team research {
                  org engineering
                  budget 1.50 usd per day hard
                  limit requests 1000 per 1m
                }

                team lonely {
                  budget 1 usd per day hard
                }
                """);
        Files.writeString(h.policies.resolve("teams.kgp"), """
                policy svc {
                  models allow ["pricey", "sim-small"]
                }

                policy capped {
                  models allow ["pricey", "sim-small"]
                  budget 0.50 usd per day hard by team
                }

                policy unit_wide {
                  models allow ["sim-small"]
                  limit requests 100 per 1m by org
                }
                """);
        h.start();
    }

    @AfterEach
    void stop() {
        h.close();
    }

    String key(String policy, String name, String team) throws Exception {
        ObjectNode body = FakeUpstream.JSON.createObjectNode().put("policy", policy).put("name", name);
        if (team != null) body.put("team", team);
        AdminClient.Reply r = h.admin().post("admin/keys", body);
        assertEquals(201, r.status(), r.raw());
        if (team != null) assertEquals(team, r.body().path("team").asText());
        return r.body().path("secret").asText();
    }

    HttpResponse<String> chat(String secret, String model) throws Exception {
        return h.post("/v1/chat/completions", secret, "{\"model\":\"" + model + "\",\"max_tokens\":20,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}");
    }

    static JsonNode error(HttpResponse<String> r) throws Exception {
        return FakeUpstream.JSON.readTree(r.body()).path("error");
    }

    @Test
    void concurrentRequestsOfTwoTeamsNeverTakeTheUnitOrATeamPastItsCap() throws Exception {
        List<String> search = List.of(key("svc", "s1", "search"), key("svc", "s2", "search"));
        List<String> research = List.of(key("svc", "r1", "research"), key("svc", "r2", "research"));
        ExecutorService pool = Executors.newFixedThreadPool(12);
        List<Future<HttpResponse<String>>> calls = new ArrayList<>();
        for (int i = 0; i < 30; i++) {
            String s = search.get(i % 2);
            String r = research.get(i % 2);
            calls.add(pool.submit(() -> chat(s, "pricey")));
            calls.add(pool.submit(() -> chat(r, "pricey")));
        }
        Map<String, Integer> refusedBy = new HashMap<>();
        int ok = 0;
        for (Future<HttpResponse<String>> f : calls) {
            HttpResponse<String> r = f.get(60, TimeUnit.SECONDS);
            if (r.statusCode() == 200) {
                ok++;
                continue;
            }
            assertEquals(429, r.statusCode(), r.body());
            refusedBy.merge(error(r).path("keyguard").path("rule").asText(), 1, Integer::sum);
        }
        pool.shutdown();
        assertTrue(ok > 0 && !refusedBy.isEmpty(), ok + " " + refusedBy);
        assertTrue(refusedBy.keySet().stream().allMatch(id -> id.equals("budget.org.day") || id.equals("budget.team.day")), refusedBy.toString());

        long total = 0;
        Map<String, Long> byTeam = new HashMap<>();
        for (String line : h.admin().get("admin/audit?type=decision").raw().split("\n")) {
            if (line.isBlank()) continue;
            JsonNode e = FakeUpstream.JSON.readTree(line);
            assertEquals("engineering", e.path("org").asText(), line);
            total += e.path("cost_micros").asLong();
            byTeam.merge(e.path("team").asText(), e.path("cost_micros").asLong(), Long::sum);
        }
        assertEquals(ok * COST, total, "every admitted request is charged what it used");
        assertTrue(total <= ORG_CAP, "the unit's cap holds: " + total);
        assertTrue(total > ORG_CAP - 2 * COST, "and is nearly used: each refusal found no room for a reservation: " + total);
        for (long spent : byTeam.values()) assertTrue(spent <= TEAM_CAP, "each team's cap holds: " + byTeam);

        // The roll-up: the unit's spend is the sum of its teams', which is the sum of the events.
        JsonNode byOrg = h.admin().get("admin/spend?group_by=org").body();
        assertEquals(1, byOrg.path("rows").size(), byOrg.toString());
        assertEquals("engineering", byOrg.path("rows").get(0).path("org").asText());
        assertEquals(total, byOrg.path("rows").get(0).path("cost_micros").asLong());
        JsonNode teams = h.admin().get("admin/spend?group_by=org,team").body();
        long sum = 0;
        for (JsonNode row : teams.path("rows")) {
            assertEquals(byTeam.get(row.path("team").asText()), row.path("cost_micros").asLong(), teams.toString());
            sum += row.path("cost_micros").asLong();
        }
        assertEquals(total, sum, teams.toString());
    }

    @Test
    void aPolicysBudgetByTeamSharesTheTeamsCounterAndTheTighterCapBinds() throws Exception {
        String capped = key("capped", "c1", "search");
        String plain = key("svc", "p1", "search");
        // Each request reserves its prompt and 20 output tokens (about 0.28 usd) and uses 0.16.
        assertEquals(200, chat(plain, "pricey").statusCode());
        assertEquals(200, chat(capped, "pricey").statusCode());
        HttpResponse<String> third = chat(capped, "pricey");
        assertEquals(429, third.statusCode(), "0.32 spent by the team leaves no room for a reservation under 0.50: " + third.body());
        assertEquals("budget.team.day", error(third).path("keyguard").path("rule").asText());
        // The team's own cap (1.50) still lets a key of another policy through.
        assertEquals(200, chat(plain, "pricey").statusCode());

        JsonNode usage = h.admin().get("admin/keys").body();
        String id = null;
        for (JsonNode k : usage.path("keys")) if (k.path("name").asText().equals("c1")) id = k.path("id").asText();
        JsonNode u = h.admin().get("admin/keys/" + id + "/usage").body();
        assertEquals("search", u.path("team").asText(), u.toString());
        assertEquals("engineering", u.path("org").asText());
        Map<String, JsonNode> limits = new HashMap<>();
        for (JsonNode l : u.path("limits")) limits.put(l.path("id").asText() + "@" + l.path("origin").asText(), l);
        assertEquals(Money.micros(new java.math.BigDecimal("0.50")), limits.get("budget.team.day@capped").path("cap_micros").asLong(), u.toString());
        assertEquals(3 * COST, limits.get("budget.team.day@capped").path("used_micros").asLong());
        assertEquals(3 * COST, limits.get("budget.org.day@org engineering").path("used_micros").asLong(), u.toString());
    }

    @Test
    void aKeyOutsideTheOrganisationIsRefusedClearlyWhereItsPolicyCountsByTeamOrOrg() throws Exception {
        String teamless = h.key("capped", "nobody", Map.of());
        HttpResponse<String> r = chat(teamless, "sim-small");
        assertEquals(403, r.statusCode(), r.body());
        assertEquals("key_outside_organisation", error(r).path("code").asText());
        assertTrue(error(r).path("message").asText().startsWith("this key belongs to no team, and policy `capped` counts `spend.team.day` by team"), r.body());

        String lonely = key("unit_wide", "l1", "lonely");
        HttpResponse<String> noUnit = chat(lonely, "sim-small");
        assertEquals(403, noUnit.statusCode());
        assertTrue(error(noUnit).path("message").asText().contains("is in team `lonely`, which is in no org unit"), noUnit.body());
        assertEquals(200, chat(key("unit_wide", "r1", "research"), "sim-small").statusCode());
        // A key outside the organisation under a policy that does not count by team is served as before.
        assertEquals(200, chat(h.key("svc", "free", Map.of()), "sim-small").statusCode());

        // Only admins put keys in teams, and only in declared ones.
        AdminClient.Reply unknown = h.admin().post("admin/keys", FakeUpstream.JSON.createObjectNode().put("policy", "svc").put("name", "x").put("team", "nope"));
        assertEquals(400, unknown.status());
        assertTrue(unknown.error().contains("teams are [lonely, research, search]"), unknown.raw());
    }

    @Test
    void aKeyOwnedByATeamsGroupIsInTheTeam() {
        keyguard.policy.OrgChart org = h.gateway.policies().set().org();
        KeyRecord byGroup = new KeyRecord("k1", "n", "group:Search-Eng", "svc", Map.of(), java.time.Instant.EPOCH, null, KeyState.ACTIVE, "");
        assertEquals("search", byGroup.team(org).name(), "group names compare case-insensitively, as identity providers do");
        assertEquals("engineering", byGroup.team(org).unitName());
        assertNull(byGroup.withOwner("group:other").team(org));
        assertNull(byGroup.withOwner("user:ada").team(org));
    }
}
