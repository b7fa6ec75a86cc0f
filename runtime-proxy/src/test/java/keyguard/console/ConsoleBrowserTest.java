package keyguard.console;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import keyguard.admin.OidcConfig;
import keyguard.gateway.FakeUpstream;
import keyguard.gateway.GatewayHarness;
import no.nav.security.mock.oauth2.MockOAuth2Server;
import no.nav.security.mock.oauth2.token.DefaultOAuth2TokenCallback;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.openqa.selenium.By;
import org.openqa.selenium.JavascriptExecutor;
import org.openqa.selenium.OutputType;
import org.openqa.selenium.TakesScreenshot;
import org.openqa.selenium.WebDriver;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;
import org.openqa.selenium.support.ui.ExpectedConditions;
import org.openqa.selenium.support.ui.Select;
import org.openqa.selenium.support.ui.WebDriverWait;

/**
 * The console in a real browser: Debian's headless chromium, driven through Debian's
 * chromedriver by Selenium, against a live gateway on loopback with the simulator as the
 * provider and, for sign-in through an identity provider, an in-process OIDC server. Each
 * page's screenshot is written to {@code target/console-screenshots/} (docs/console.md
 * shows them).
 */
class ConsoleBrowserTest {
    static final Path SHOTS = Path.of("target/console-screenshots");
    static WebDriver browser;
    GatewayHarness h;
    MockOAuth2Server idp;

    @BeforeAll
    static void openBrowser() throws Exception {
        Path chromium = firstExisting("/usr/bin/chromium", "/usr/bin/chromium-browser");
        Path driver = firstExisting("/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver");
        if (chromium == null || driver == null) {
            throw new AssertionError("the console's browser tests need Debian's chromium and chromedriver: "
                    + "`apt-get install chromium chromium-driver` (.ci/run does it)");
        }
        ChromeOptions options = new ChromeOptions();
        options.setBinary(chromium.toFile());
        // The flags a root sandbox on a closed network needs: no sandbox, no GPU, no calls home.
        options.addArguments("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync", "--window-size=1280,900",
                "--user-data-dir=" + Files.createTempDirectory("kg-chromium"));
        options.setCapability("goog:loggingPrefs", Map.of("browser", "ALL")); // CSP violations and script errors
        ChromeDriverService service = new ChromeDriverService.Builder().usingDriverExecutable(driver.toFile()).usingAnyFreePort().build();
        browser = new ChromeDriver(service, options);
        browser.manage().timeouts().scriptTimeout(Duration.ofSeconds(10));
        Files.createDirectories(SHOTS);
    }

    @AfterAll
    static void closeBrowser() {
        if (browser != null) browser.quit();
    }

    @BeforeEach
    void start(@TempDir Path tmp) throws Exception {
        idp = new MockOAuth2Server();
        idp.start();
        h = new GatewayHarness(tmp, false);
        Files.writeString(h.policies.resolve("policies.kgp"), """
                policy search {
                  tags { team: "search" }
                  models allow ["sim-small"]
                  limit requests 100 per 1m by key
                  limit tokens 200_000 per 1h by key
                  budget 5 usd per day hard by key
                  budget 50 usd per month soft warn at 80% by policy
                }
                policy support {
                  tags { team: "support" }
                  models allow ["sim-small"]
                  budget 20 usd per week hard by policy
                }
                tests search {
                  test "a small chat is allowed" {
                    request { model: "sim-small" }
                    expect allow
                  }
                }
                """);
        h.oidc = new OidcConfig(idp.issuerUrl("default").toString(), "keyguard", null, "groups", Set.of("kg-admins"), Set.of("kg-auditors"),
                Map.of("team-search", Set.of("search")), "keyguard-console", null).withSelfService(keyguard.identity.SelfService.parse(
                "{\"grants\": [{\"group\": \"support-team\", \"policies\": [\"support\"], \"max_lifetime\": \"30d\", \"max_keys\": 3}]}", "grants"));
        h.start();
        browser.manage().deleteAllCookies();
    }

    @AfterEach
    void stop() {
        if (h != null) h.close();
        if (idp != null) idp.shutdown();
    }

    String console() {
        return "http://127.0.0.1:" + h.gateway.adminAddress().getPort();
    }

    /** Waits up to 15 s; an element the page redraws between finding and reading it (a reload of a table) is looked up again. */
    WebDriverWait waiting() {
        WebDriverWait wait = new WebDriverWait(browser, Duration.ofSeconds(15));
        wait.ignoring(org.openqa.selenium.StaleElementReferenceException.class);
        return wait;
    }

    void signInWithToken(String token) {
        browser.get(console() + "/");
        WebElement field = waiting().until(ExpectedConditions.elementToBeClickable(By.cssSelector("#signin-form input[name=token]")));
        field.sendKeys(token);
        browser.findElement(By.cssSelector("#signin-form button[type=submit]")).click();
        waiting().until(ExpectedConditions.visibilityOfElementLocated(By.id("nav")));
    }

    void go(String hash) {
        browser.get(console() + "/console/#/" + hash);
    }

    static void shot(String name) throws Exception {
        Files.write(SHOTS.resolve(name + ".png"), ((TakesScreenshot) browser).getScreenshotAs(OutputType.BYTES));
    }

    /** A chat request on the data plane with a key; the status. */
    int chat(String secret) throws Exception {
        return h.post("/v1/chat/completions", secret, "{\"model\":\"sim-small\",\"messages\":[{\"role\":\"user\",\"content\":\"hello there, how are you\"}]}").statusCode();
    }

    @Test
    void theRootLeadsToTheConsoleWhoseAnswersCarryAStrictContentSecurityPolicy() throws Exception {
        HttpClient http = HttpClient.newHttpClient();
        HttpResponse<String> root = http.send(HttpRequest.newBuilder(URI.create(console() + "/")).build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(302, root.statusCode());
        assertEquals("/console/", root.headers().firstValue("location").orElseThrow());
        HttpResponse<String> page = http.send(HttpRequest.newBuilder(URI.create(console() + "/console/")).build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(200, page.statusCode());
        String csp = page.headers().firstValue("content-security-policy").orElseThrow();
        assertTrue(csp.contains("script-src 'self'") && !csp.contains("unsafe-inline") && csp.contains("frame-ancestors 'none'"), csp);
        assertEquals("nosniff", page.headers().firstValue("x-content-type-options").orElseThrow());
        assertEquals("DENY", page.headers().firstValue("x-frame-options").orElseThrow());
        assertFalse(page.body().contains("<script>"), "no inline script");
        HttpResponse<String> traversal = http.send(HttpRequest.newBuilder(URI.create(console() + "/console/..%2F..%2Fkeyguard%2Fconsole%2Fapp.js")).build(),
                HttpResponse.BodyHandlers.ofString());
        assertEquals(404, traversal.statusCode(), "only the console's own files are served");

        browser.get(console() + "/");
        waiting().until(ExpectedConditions.visibilityOfElementLocated(By.id("signin-form")));
        assertTrue(browser.getCurrentUrl().endsWith("/console/"), browser.getCurrentUrl());
        assertNotNull(browser.findElement(By.id("oidc-signin")), "the identity provider's sign-in is offered");
        shot("signin");
        WebElement field = browser.findElement(By.cssSelector("#signin-form input[name=token]"));
        field.sendKeys("not-the-token-at-all-not-the-token-at-all");
        browser.findElement(By.cssSelector("#signin-form button[type=submit]")).click();
        waiting().until(ExpectedConditions.textToBePresentInElementLocated(By.cssSelector("#signin-form .error"), "wrong admin token"));
        field.clear();
        signInWithToken(h.gateway.adminToken());
        assertTrue(browser.findElement(By.id("who")).getText().contains("bootstrap-token · admin"), browser.findElement(By.id("who")).getText());
        Object cookies = ((JavascriptExecutor) browser).executeScript("return document.cookie");
        assertFalse(String.valueOf(cookies).contains("kg_session"), "the session cookie is HttpOnly: " + cookies);
        go("spend");
        waiting().until(ExpectedConditions.presenceOfElementLocated(By.cssSelector("#spend-chart canvas")));
        List<String> console = browser.manage().logs().get(org.openqa.selenium.logging.LogType.BROWSER).getAll().stream()
                .map(org.openqa.selenium.logging.LogEntry::getMessage).toList();
        assertTrue(console.stream().noneMatch(m -> m.contains("Content Security Policy") || m.contains("Uncaught")),
                "no CSP violation and no script error: " + console);
    }

    @Test
    void spendAppearsAfterTrafficAndEqualsTheAdminApi() throws Exception {
        String a = h.key("search", "indexer", Map.of());
        String b = h.key("support", "bot", Map.of());
        for (int i = 0; i < 3; i++) assertEquals(200, chat(a));
        assertEquals(200, chat(b));
        JsonNode spend = h.admin().get("admin/spend").body();
        long total = spend.path("total_cost_micros").asLong();
        assertTrue(total > 0, spend.toString());

        signInWithToken(h.gateway.adminToken());
        go("spend");
        WebElement shown = waiting().until(ExpectedConditions.presenceOfElementLocated(By.id("spend-total")));
        assertEquals(Long.toString(total), shown.getAttribute("data-micros"));
        assertEquals(spend.path("total_requests").asText(), browser.findElement(By.id("spend-requests")).getText());
        assertTrue(browser.findElement(By.id("spend-table")).getText().contains("search"), "grouped by policy");
        waiting().until(ExpectedConditions.presenceOfElementLocated(By.cssSelector("#spend-chart canvas")));
        // Budgets of the keys that spent: the key's daily hard budget and the policy's monthly soft one.
        waiting().until(ExpectedConditions.presenceOfElementLocated(By.cssSelector("#budgets [data-budget='budget.key.day']")));
        assertFalse(browser.findElements(By.cssSelector("#budgets [data-budget='budget.policy.month']")).isEmpty());
        shot("spend");

        // Stacked by team tag: the `team` audit tag of each policy.
        new Select(browser.findElement(By.cssSelector("select[name=by]"))).selectByValue("teamtag");
        browser.findElement(By.cssSelector("form.card button[type=submit]")).click();
        waiting().until(ExpectedConditions.textToBePresentInElementLocated(By.cssSelector("#spend-table caption"), "by team tag"));
        String byTeam = browser.findElement(By.id("spend-table")).getText();
        assertTrue(byTeam.contains("search") && byTeam.contains("support") && !byTeam.contains("team=search"), byTeam);
        assertEquals(Long.toString(total), browser.findElement(By.id("spend-total")).getAttribute("data-micros"));

        // Stacked by one tag, named: the same groups through `group_by=tag:team`.
        new Select(browser.findElement(By.cssSelector("select[name=by]"))).selectByValue("tagname");
        browser.findElement(By.cssSelector("input[name=tag_name]")).sendKeys("team");
        browser.findElement(By.cssSelector("form.card button[type=submit]")).click();
        waiting().until(ExpectedConditions.textToBePresentInElementLocated(By.cssSelector("#spend-table caption"), "by tag:team"));
        String byTag = browser.findElement(By.id("spend-table")).getText();
        assertTrue(byTag.contains("search") && byTag.contains("support"), byTag);
        new Select(browser.findElement(By.cssSelector("select[name=by]"))).selectByValue("policy");

        // Filtered to one policy: the admin API's numbers for that filter.
        WebElement policy = browser.findElement(By.cssSelector("input[name=policy]"));
        policy.sendKeys("support");
        browser.findElement(By.cssSelector("form.card button[type=submit]")).click();
        long support = h.admin().get("admin/spend?policy=support").body().path("total_cost_micros").asLong();
        long supportRow = 0;
        for (JsonNode r : spend.path("rows")) if (r.path("policy").asText().equals("support")) supportRow = r.path("cost_micros").asLong();
        assertEquals(supportRow, support, "the filter keeps that policy's spend only");
        assertTrue(support > 0 && support < total);
        waiting().until(ExpectedConditions.attributeToBe(By.id("spend-total"), "data-micros", Long.toString(support)));
    }

    @Test
    void aKeyCreatedInTheConsoleServesUntilTheConsoleRevokesIt() throws Exception {
        signInWithToken(h.gateway.adminToken());
        go("keys");
        WebElement form = waiting().until(ExpectedConditions.presenceOfElementLocated(By.id("create-key")));
        form.findElement(By.name("name")).sendKeys("console-made");
        new Select(form.findElement(By.name("policy"))).selectByValue("search");
        form.findElement(By.name("owner")).sendKeys("team-search");
        form.findElement(By.cssSelector("button[type=submit]")).click();
        WebElement secret = waiting().until(ExpectedConditions.visibilityOfElementLocated(By.id("new-secret")));
        String key = secret.getText().strip();
        assertTrue(key.startsWith("kg-"), key);
        assertTrue(browser.findElement(By.id("secret-dialog")).getText().contains("will not be shown again"));
        shot("key-created");
        browser.findElement(By.id("close-secret")).click();
        waiting().until(ExpectedConditions.presenceOfElementLocated(By.id("key-id")));

        assertEquals(200, chat(key), "the new key serves");
        browser.navigate().refresh();
        waiting().until(ExpectedConditions.textToBePresentInElementLocated(By.id("key-30d"), "1 requests"));
        assertTrue(browser.findElement(By.id("main")).getText().contains("limit.requests.key.1m"));
        shot("key");

        browser.findElement(By.id("revoke")).click();
        waiting().until(ExpectedConditions.alertIsPresent()).accept();
        waiting().until(ExpectedConditions.textToBe(By.id("key-state"), "revoked"));
        assertEquals(401, chat(key), "the next request after the revocation is refused");

        go("keys");
        waiting().until(ExpectedConditions.textToBePresentInElementLocated(By.id("key-list"), "console-made"));
        shot("keys");
    }

    @Test
    void aTeamAdminSignedInThroughTheIdentityProviderSeesOnlyItsOwnPolicysKeys() throws Exception {
        String own = h.key("search", "search-indexer", Map.of());
        String other = h.key("support", "support-bot", Map.of());
        assertEquals(200, chat(own));
        assertEquals(200, chat(other));
        String otherId = h.admin().get("admin/keys").body().path("keys").get(1).path("id").asText();

        idp.enqueueCallback(new DefaultOAuth2TokenCallback("default", "bob@example.com", "JWT", List.of("keyguard"),
                Map.of("groups", List.of("team-search")), 3600));
        browser.get(console() + "/console/");
        waiting().until(ExpectedConditions.elementToBeClickable(By.id("oidc-signin"))).click();
        waiting().until(ExpectedConditions.visibilityOfElementLocated(By.id("nav")));
        assertTrue(browser.findElement(By.id("who")).getText().contains("bob@example.com · team admin"), browser.findElement(By.id("who")).getText());

        go("keys");
        WebElement list = waiting().until(ExpectedConditions.presenceOfElementLocated(By.cssSelector("#key-list table")));
        assertTrue(list.getText().contains("search-indexer"), list.getText());
        assertFalse(list.getText().contains("support-bot"), "another team's key is not listed: " + list.getText());
        new Select(browser.findElement(By.cssSelector("#create-key select[name=policy]"))).getOptions()
                .forEach(o -> assertEquals("search", o.getAttribute("value"), "a team admin creates keys for its own policies only"));
        shot("keys-team-admin");

        go("keys/" + otherId);
        waiting().until(ExpectedConditions.textToBePresentInElementLocated(By.cssSelector("#main .error"), "may not read key"));

        go("spend");
        WebElement table = waiting().until(ExpectedConditions.presenceOfElementLocated(By.cssSelector("#spend-table table")));
        assertTrue(table.getText().contains("search") && !table.getText().contains("support"), table.getText());
        go("audit");
        WebElement events = waiting().until(ExpectedConditions.presenceOfElementLocated(By.cssSelector("#audit-results table")));
        assertFalse(events.getText().contains("support"), "another team's events are not shown: " + events.getText());
    }

    @Test
    void aMemberIssuesThemselvesAKeyWithinTheirGroupsGrant() throws Exception {
        h.key("support", "support-bot", Map.of());
        // Her group is in the directory (no users yet: her token's groups count) and owns a service account.
        String scim = Files.readString(h.data.resolve("scim.token")).strip();
        assertEquals(201, h.http.send(HttpRequest.newBuilder(URI.create(console() + "/scim/v2/Groups")).header("Authorization", "Bearer " + scim)
                .header("Content-Type", "application/scim+json").POST(HttpRequest.BodyPublishers.ofString("{\"displayName\":\"support-team\",\"members\":[]}")).build(),
                HttpResponse.BodyHandlers.ofString()).statusCode());
        assertEquals(201, h.admin().post("admin/service-accounts", FakeUpstream.JSON.createObjectNode().put("name", "triage-bot").put("group", "support-team")
                .put("policy", "support").put("max_lifetime", "7d").put("description", "ticket triage")).status());
        signInWithToken(idp.issueToken("default", "00u-erin", "keyguard", Map.of("preferred_username", "erin@example.com",
                "groups", List.of("support-team")), 3600).serialize());
        assertTrue(browser.findElement(By.id("who")).getText().contains("· member"), browser.findElement(By.id("who")).getText());
        assertFalse(browser.findElement(By.cssSelector("#nav a[data-page=spend]")).isDisplayed(), "a member reads no spend");
        assertTrue(browser.findElement(By.cssSelector("#nav a[data-page=keys]")).isDisplayed());

        go("keys");
        WebElement form = waiting().until(ExpectedConditions.presenceOfElementLocated(By.id("create-key")));
        assertEquals(List.of("support"), new Select(form.findElement(By.name("policy"))).getOptions().stream().map(o -> o.getAttribute("value")).toList());
        assertEquals("user:erin@example.com", new Select(form.findElement(By.name("owner"))).getFirstSelectedOption().getAttribute("value"), "hers by default");
        Select expires = new Select(form.findElement(By.name("expires_in")));
        assertEquals("30d", expires.getFirstSelectedOption().getAttribute("value"), "the grant's longest lifetime");
        assertFalse(expires.getOptions().stream().anyMatch(o -> o.getAttribute("value").isEmpty() || o.getAttribute("value").equals("90d")), "nothing longer");
        assertTrue(browser.findElement(By.id("self-service-hint")).getText().contains("at most 3 active keys"));
        // Her group's service account is a choice too, with its own limits.
        new Select(form.findElement(By.name("owner"))).selectByValue("service:triage-bot");
        Select accountExpires = new Select(form.findElement(By.name("expires_in")));
        assertEquals("1w", accountExpires.getFirstSelectedOption().getAttribute("value"), "the account's longest lifetime (7d, written 1w)");
        assertFalse(accountExpires.getOptions().stream().anyMatch(o -> o.getAttribute("value").equals("30d")));
        assertTrue(browser.findElement(By.id("self-service-hint")).getText().startsWith("Service account triage-bot"));
        assertTrue(browser.findElement(By.id("service-accounts")).getText().contains("triage-bot"), "listed under her group");
        new Select(form.findElement(By.name("owner"))).selectByValue("user:erin@example.com");
        assertFalse(browser.findElement(By.id("key-list")).getText().contains("support-bot"), "only her own keys are listed");
        form.findElement(By.name("name")).sendKeys("erin-laptop");
        shot("self-service");
        form.findElement(By.cssSelector("button[type=submit]")).click();
        String key = waiting().until(ExpectedConditions.visibilityOfElementLocated(By.id("new-secret"))).getText().strip();
        browser.findElement(By.id("close-secret")).click();
        waiting().until(ExpectedConditions.presenceOfElementLocated(By.id("key-id")));
        assertTrue(browser.findElement(By.id("main")).getText().contains("user:erin@example.com"));
        assertEquals(200, chat(key));
        assertNotNull(browser.findElement(By.id("revoke")), "she manages her own key");
    }

    @Test
    void aCallThatChangesSomethingNeedsTheSessionsCsrfTokenAndComesFromTheConsolesOwnOrigin() throws Exception {
        HttpClient http = HttpClient.newHttpClient();
        HttpResponse<String> signIn = http.send(HttpRequest.newBuilder(URI.create(console() + "/admin/session"))
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString("{\"token\":\"" + h.gateway.adminToken() + "\"}")).build(),
                HttpResponse.BodyHandlers.ofString());
        assertEquals(201, signIn.statusCode(), signIn.body());
        String setCookie = signIn.headers().firstValue("set-cookie").orElseThrow();
        assertTrue(setCookie.contains("HttpOnly") && setCookie.contains("SameSite=Strict") && setCookie.contains("Path=/"), setCookie);
        assertFalse(setCookie.contains("Secure"), "plain HTTP on loopback: a Secure cookie would never come back");
        String cookie = setCookie.substring(0, setCookie.indexOf(';'));
        String csrf = FakeUpstream.JSON.readTree(signIn.body()).path("csrf_token").asText();
        assertFalse(csrf.isEmpty());
        String body = "{\"policy\":\"search\",\"name\":\"csrf-test\"}";
        HttpRequest.Builder create = HttpRequest.newBuilder(URI.create(console() + "/admin/keys")).header("Content-Type", "application/json")
                .header("Cookie", cookie).POST(HttpRequest.BodyPublishers.ofString(body));
        assertEquals(403, http.send(create.copy().build(), HttpResponse.BodyHandlers.ofString()).statusCode(), "no CSRF token");
        assertEquals(403, http.send(create.copy().header("X-Keyguard-CSRF", csrf + "x").build(), HttpResponse.BodyHandlers.ofString()).statusCode());
        assertEquals(403, http.send(create.copy().header("X-Keyguard-CSRF", csrf).header("Origin", "http://evil.example").build(),
                HttpResponse.BodyHandlers.ofString()).statusCode(), "another site's page");
        assertEquals(201, http.send(create.copy().header("X-Keyguard-CSRF", csrf).build(), HttpResponse.BodyHandlers.ofString()).statusCode());
        HttpResponse<String> read = http.send(HttpRequest.newBuilder(URI.create(console() + "/admin/keys")).header("Cookie", cookie).build(),
                HttpResponse.BodyHandlers.ofString());
        assertEquals(200, read.statusCode(), "reading needs no CSRF token");
        assertEquals("no-store", read.headers().firstValue("cache-control").orElseThrow(), "admin answers are never cached");
        assertEquals("nosniff", read.headers().firstValue("x-content-type-options").orElseThrow());
        HttpResponse<String> foreignSignIn = http.send(HttpRequest.newBuilder(URI.create(console() + "/admin/session"))
                .header("Content-Type", "text/plain").POST(HttpRequest.BodyPublishers.ofString("{\"token\":\"" + h.gateway.adminToken() + "\"}")).build(),
                HttpResponse.BodyHandlers.ofString());
        assertEquals(403, foreignSignIn.statusCode(), "a form post from another site cannot sign anyone in");

        HttpResponse<String> out = http.send(HttpRequest.newBuilder(URI.create(console() + "/admin/session")).header("Cookie", cookie)
                .header("X-Keyguard-CSRF", csrf).DELETE().build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(200, out.statusCode(), out.body());
        assertEquals(401, http.send(HttpRequest.newBuilder(URI.create(console() + "/admin/keys")).header("Cookie", cookie).build(),
                HttpResponse.BodyHandlers.ofString()).statusCode(), "signed out: the cookie is worth nothing");
        String audit = h.admin().get("admin/audit?type=admin").raw();
        assertTrue(audit.contains("\"action\":\"session.create\""), audit);
    }

    /** Signs in over HTTP with a credential; the session's cookie. */
    String sessionCookie(HttpClient http, String credential) throws Exception {
        HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(console() + "/admin/session")).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString("{\"token\":\"" + credential + "\"}")).build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(201, r.statusCode(), r.body());
        String setCookie = r.headers().firstValue("set-cookie").orElseThrow();
        return setCookie.substring(0, setCookie.indexOf(';'));
    }

    @Test
    void metricsBehindATokenAreReadWithTheConsoleSessionOfAnAdminOrAuditorOnly() throws Exception {
        h.configure = c -> c.withMetricsAuth(keyguard.gateway.GatewayConfig.MetricsAuth.TOKEN);
        h.restart();
        HttpClient http = HttpClient.newHttpClient();
        HttpRequest.Builder metrics = HttpRequest.newBuilder(URI.create(console() + "/metrics"));
        assertEquals(401, http.send(metrics.copy().build(), HttpResponse.BodyHandlers.ofString()).statusCode());
        String admin = sessionCookie(http, h.gateway.adminToken());
        assertEquals(200, http.send(metrics.copy().header("Cookie", admin).build(), HttpResponse.BodyHandlers.ofString()).statusCode());
        assertEquals(401, http.send(metrics.copy().header("Cookie", admin).header("Origin", "http://evil.example").build(),
                HttpResponse.BodyHandlers.ofString()).statusCode(), "not from another site's page");
        String auditor = sessionCookie(http, idp.issueToken("default", "carol", "keyguard", Map.of("groups", List.of("kg-auditors")), 3600L).serialize());
        assertEquals(200, http.send(metrics.copy().header("Cookie", auditor).build(), HttpResponse.BodyHandlers.ofString()).statusCode());
        String team = sessionCookie(http, idp.issueToken("default", "bob", "keyguard", Map.of("groups", List.of("team-search")), 3600L).serialize());
        assertEquals(401, http.send(metrics.copy().header("Cookie", team).build(), HttpResponse.BodyHandlers.ofString()).statusCode(),
                "metrics span every team's policies: not for a team admin");
    }

    @Test
    void anIdentityProviderSignInIsAcceptedOnlyFromTheBrowserThatStartedIt() throws Exception {
        HttpClient http = HttpClient.newHttpClient();
        HttpResponse<String> start = http.send(HttpRequest.newBuilder(URI.create(console() + "/console/oidc/start")).build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(302, start.statusCode(), start.body());
        String location = start.headers().firstValue("location").orElseThrow();
        assertTrue(location.startsWith(idp.issuerUrl("default").toString()) && location.contains("code_challenge_method=S256"), location);
        String state = location.replaceAll(".*[?&]state=([^&]+).*", "$1");
        String sealed = start.headers().firstValue("set-cookie").orElseThrow();
        assertTrue(sealed.contains("HttpOnly") && sealed.contains("SameSite=Lax") && sealed.contains("Path=/console/oidc/"), sealed);
        String cookie = sealed.substring(0, sealed.indexOf(';'));
        String callback = console() + "/console/oidc/callback?code=anything&state=";
        assertEquals(400, http.send(HttpRequest.newBuilder(URI.create(callback + state)).build(), HttpResponse.BodyHandlers.ofString()).statusCode(),
                "without the cookie of the browser that started it");
        assertEquals(400, http.send(HttpRequest.newBuilder(URI.create(callback + "other")).header("Cookie", cookie).build(),
                HttpResponse.BodyHandlers.ofString()).statusCode(), "another sign-in's state");
        String forged = cookie.substring(0, cookie.length() - 2) + (cookie.endsWith("AA") ? "BB" : "AA");
        assertEquals(400, http.send(HttpRequest.newBuilder(URI.create(callback + state)).header("Cookie", forged).build(),
                HttpResponse.BodyHandlers.ofString()).statusCode(), "a cookie not sealed by this gateway");
        HttpResponse<String> redeemed = http.send(HttpRequest.newBuilder(URI.create(callback + state)).header("Cookie", cookie).build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(502, redeemed.statusCode(), "the right browser gets as far as the provider, which does not know this code: " + redeemed.body());
    }

    @Test
    void policiesLiveAndAuditShowWhatTheAdminApiSays() throws Exception {
        String a = h.key("search", "indexer", Map.of());
        assertEquals(200, chat(a));
        String revision = h.admin().get("admin/policies").body().path("revision").asText();
        String decision = FakeUpstream.JSON.readTree(h.admin().get("admin/audit?type=decision").raw().strip().lines().reduce((x, y) -> y).orElseThrow())
                .path("decision_id").asText();

        signInWithToken(h.gateway.adminToken());
        go("policies");
        waiting().until(ExpectedConditions.textToBe(By.id("revision"), revision));
        shot("policies");
        go("policies/search");
        WebElement source = waiting().until(ExpectedConditions.presenceOfElementLocated(By.id("policy-source")));
        assertTrue(source.getText().contains("budget 5 usd per day hard by key"), source.getText());
        assertTrue(browser.findElement(By.id("main")).getText().contains("a small chat is allowed"), "the inline test is listed");
        shot("policy");

        go("live");
        waiting().until(ExpectedConditions.presenceOfElementLocated(By.id("in-flight")));
        assertEquals("0", browser.findElement(By.id("in-flight")).getText());
        waiting().until(ExpectedConditions.presenceOfElementLocated(By.cssSelector("#live-chart canvas")));
        shot("live");

        go("audit/" + decision);
        WebElement results = waiting().until(ExpectedConditions.presenceOfElementLocated(By.cssSelector("#audit-results table")));
        assertTrue(results.getText().contains(decision), results.getText());
        results.findElement(By.cssSelector("tbody tr")).click();
        waiting().until(ExpectedConditions.textToBePresentInElementLocated(By.id("explain"), "recorded: " + decision));
        String explained = browser.findElement(By.id("explain")).getText();
        String api = h.admin().get("admin/audit/explain?decision=" + decision).raw();
        assertEquals(api.strip(), explained.strip(), "the same text as the admin API (and keyguard explain)");
        shot("audit");
    }

    private static Path firstExisting(String... paths) {
        for (String p : paths) if (Files.isExecutable(Path.of(p))) return Path.of(p);
        return null;
    }
}
