package keyguard.cli;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import keyguard.gateway.Gateway;
import keyguard.gateway.GatewayConfig;
import keyguard.revision.PolicyLoadException;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

@Command(name = "serve", sortOptions = false, description = {"Run the gateway: the data plane and the admin API, on loopback by default.",
        "With no arguments: policies from ./policies, state in ./data (created on first start)."})
final class ServeCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--policies", paramLabel = "DIR", description = "policy directory (default: ./policies)")
    Path policies = Path.of("policies");

    @Option(names = "--data", paramLabel = "DIR", description = "data directory: keys, server secret, admin token (default: ./data)")
    Path data = Path.of("data");

    @Option(names = "--host", description = "address of the data plane (default: 127.0.0.1)")
    String host = "127.0.0.1";

    @Option(names = "--admin-host", description = "address of the admin API and /metrics (default: 127.0.0.1; move it only behind a firewall)")
    String adminHost = "127.0.0.1";

    @Option(names = "--metrics-auth", paramLabel = "auto|none|token",
            description = "whether /metrics needs a token (KEYGUARD_METRICS_TOKEN or data/metrics.token, or the admin token); auto: when the admin host is not loopback (default: auto)")
    GatewayConfig.MetricsAuth metricsAuth = GatewayConfig.MetricsAuth.AUTO;

    @picocli.CommandLine.Mixin
    TrustOptions trustOptions = new TrustOptions();

    @Option(names = "--audit-failure", paramLabel = "closed|open",
            description = "when an audit event cannot be written: closed answers 503 and forwards nothing (default), open keeps serving")
    String auditFailure = "closed";

    @Option(names = "--max-connections", paramLabel = "N", description = "open data-plane connections at most (default: 10000)")
    int maxConnections = GatewayConfig.Connections.DEFAULT.maxConnections();

    @Option(names = "--port", description = "data-plane port; 0 picks a free one (default: 8080)")
    int port = 8080;

    @Option(names = "--oidc-issuer", paramLabel = "URL", description = "let this identity provider's JWTs into the admin API")
    String oidcIssuer;

    @Option(names = "--oidc-audience", paramLabel = "AUD", description = "the audience admin JWTs must carry (default: keyguard)")
    String oidcAudience = "keyguard";

    @Option(names = "--oidc-jwks", paramLabel = "URL", description = "the signing keys (default: from the issuer's discovery document)")
    String oidcJwks;

    @Option(names = "--oidc-roles-claim", paramLabel = "CLAIM", description = "the claim listing the caller's groups (default: groups)")
    String oidcRolesClaim = "groups";

    @Option(names = "--oidc-admin-group", paramLabel = "GROUP", description = "a group whose members may do everything (repeatable)")
    java.util.List<String> oidcAdmins = new java.util.ArrayList<>();

    @Option(names = "--oidc-auditor-group", paramLabel = "GROUP", description = "a group whose members may read keys, spend and audit (repeatable)")
    java.util.List<String> oidcAuditors = new java.util.ArrayList<>();

    @Option(names = "--oidc-team-admin", paramLabel = "GROUP=POLICY[,POLICY]",
            description = "a group whose members manage the keys of these policies only (repeatable)")
    java.util.Map<String, String> oidcTeams = new java.util.LinkedHashMap<>();

    @Option(names = "--workload-identity", paramLabel = "FILE",
            description = "let workloads call with JWTs from the issuers this file trusts, mapped to policies (see docs/identity.md)")
    Path workloadIdentity;

    @Option(names = "--oidc-client-id", paramLabel = "ID",
            description = "the console's client at the identity provider: offers sign-in there (authorization code with PKCE); "
                    + "a confidential client's secret from KEYGUARD_OIDC_CLIENT_SECRET")
    String oidcClientId;

    @Option(names = "--oidc-cli-client-id", paramLabel = "ID",
            description = "the public client `keyguard login` signs in with (OAuth device authorization flow; see docs/identity.md)")
    String oidcCliClientId;

    @Option(names = "--oidc-cli-scope", paramLabel = "SCOPES",
            description = "the scopes `keyguard login` asks for (default: " + keyguard.admin.OidcConfig.DEFAULT_CLI_SCOPE + ")")
    String oidcCliScope;

    @Option(names = "--oidc-username-claim", paramLabel = "CLAIM",
            description = "the claim naming a person, as SCIM's userName (default: preferred_username, else upn, else email, else sub)")
    String oidcUsernameClaim;

    @Option(names = "--self-service", paramLabel = "FILE",
            description = "which identity-provider groups may issue keys to themselves, for which policies and how long (see docs/identity.md)")
    Path selfService;

    keyguard.admin.OidcConfig oidc() {
        if (oidcIssuer == null) {
            if (selfService != null || oidcCliClientId != null) throw new IllegalArgumentException("--self-service and --oidc-cli-client-id need --oidc-issuer");
            return null;
        }
        java.util.Map<String, java.util.Set<String>> teams = new java.util.LinkedHashMap<>();
        oidcTeams.forEach((g, ps) -> teams.put(g, java.util.Set.of(ps.split(","))));
        String secret = System.getenv("KEYGUARD_OIDC_CLIENT_SECRET");
        return new keyguard.admin.OidcConfig(oidcIssuer, oidcAudience, oidcJwks, oidcRolesClaim, java.util.Set.copyOf(oidcAdmins),
                java.util.Set.copyOf(oidcAuditors), teams, oidcClientId, oidcClientId == null || secret == null || secret.isBlank() ? null : secret)
                .withCli(oidcCliClientId, oidcCliScope).withUsernameClaim(oidcUsernameClaim)
                .withSelfService(selfService == null ? keyguard.identity.SelfService.NONE : keyguard.identity.SelfService.read(selfService));
    }

    @Option(names = "--plugins", paramLabel = "DIR",
            description = "a folder of plugin jars whose policy functions conditions may call (see docs/plugins.md)")
    Path plugins;

    @Option(names = "--admin-port", description = "admin API port; 0 picks a free one (default: 8081)")
    int adminPort = 8081;

    @Option(names = "--redis", paramLabel = "URI",
            description = {"join a fleet: keys, limits, budgets and spend shared through this Redis (redis://host:6379, rediss://, "
                    + "redis-sentinel://s1:26379,s2:26379/0#mymaster); the password from the URI or KEYGUARD_REDIS_PASSWORD (see docs/fleet.md)"})
    String redis;

    @Option(names = "--node", paramLabel = "NAME", description = "this gateway's name in the fleet and in its audit events (default: the host name)")
    String node;

    @Option(names = "--fleet-lease", paramLabel = "DURATION",
            description = "how long a node spends the room it holds without Redis, and how stale its keys may get before it refuses to authenticate (default: 10s)")
    String fleetLease = "10s";

    @Option(names = "--fleet-sync", paramLabel = "DURATION", description = "how often a node syncs its counters with Redis (default: 100ms)")
    String fleetSync = "100ms";

    /** {@code 250ms}, {@code 10s}, {@code 2m}. */
    static java.time.Duration duration(String text, String option) {
        var m = java.util.regex.Pattern.compile("(\\d{1,9})(ms|s|m)").matcher(text.trim());
        if (!m.matches()) throw new IllegalArgumentException(option + " takes a duration such as 500ms, 10s or 2m, not `" + text + "`");
        long n = Long.parseLong(m.group(1));
        return switch (m.group(2)) {
            case "ms" -> java.time.Duration.ofMillis(n);
            case "s" -> java.time.Duration.ofSeconds(n);
            default -> java.time.Duration.ofMinutes(n);
        };
    }

    keyguard.fleet.FleetConfig fleet() {
        if (redis == null) return null;
        return keyguard.fleet.FleetConfig.of(redis, System.getenv("KEYGUARD_REDIS_PASSWORD"), node == null ? keyguard.fleet.FleetConfig.hostName() : node)
                .withLease(duration(fleetLease, "--fleet-lease")).withSync(duration(fleetSync, "--fleet-sync"));
    }

    @Override
    public Integer call() throws InterruptedException {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        Gateway gateway;
        keyguard.admin.OidcConfig oidc = null;
        if (!auditFailure.equals("closed") && !auditFailure.equals("open")) {
            err.println("error: --audit-failure takes closed or open");
            err.flush();
            return 2;
        }
        try {
            keyguard.compiler.Trust trust = trustOptions.trust();
            GatewayConfig.Connections c = GatewayConfig.Connections.DEFAULT;
            GatewayConfig base = GatewayConfig.defaults(policies, data);
            if (node != null) base = base.withNode(node);
            gateway = Gateway.start(base.withFleet(fleet()).withListeners(host, port, adminHost, adminPort).withOidc(oidc = oidc())
                    .withPlugins(plugins).withWorkloadIdentity(workloadIdentity).withTrust(trust).withMetricsAuth(metricsAuth).withAuditFailOpen(auditFailure.equals("open"))
                    .withConnections(new GatewayConfig.Connections(c.requestHeaders(), c.bodyRead(), c.responseWrite(), c.keepAliveIdle(), maxConnections)));
        } catch (PolicyLoadException e) {
            err.print(e.report());
            err.println("error: the policies in " + policies + " do not load (" + e.getMessage() + "); the gateway did not start");
            err.flush();
            return 1;
        } catch (RuntimeException e) {
            err.println("error: the gateway did not start: " + e.getMessage());
            err.flush();
            return 2;
        }
        var lp = gateway.policies();
        out.printf("keyguard: gateway   http://%s:%d  (OpenAI: /v1/chat/completions, /v1/embeddings, /v1/models; Anthropic: /v1/messages)%n",
                gateway.address().getHostString(), gateway.address().getPort());
        out.printf("keyguard: admin API http://%s:%d/admin%n", gateway.adminAddress().getHostString(), gateway.adminAddress().getPort());
        out.printf("keyguard: policies  %s, revision %s, %d policies, %d models%n", policies, lp.set().revision(),
                lp.set().policies().size(), lp.set().models().size());
        out.printf("keyguard: data      %s%n", gateway.dataDirectory().root().toAbsolutePath());
        if (oidc != null) {
            for (String p : oidc.selfService().policies()) {
                if (lp.set().policy(p) == null) err.printf("warning: --self-service grants policy %s, which revision %s does not have%n", p, lp.set().revision());
            }
        }
        if (gateway.fleet() != null) {
            var f = gateway.fleet();
            out.printf("keyguard: fleet     node %s, Redis %s, lease %d ms, %d key(s) loaded%n", f.node(), f.describe(),
                    f.config().lease().toMillis(), gateway.keys().all().size());
        }
        if (!GatewayConfig.isLoopback(adminHost)) {
            out.printf("keyguard: note: the admin API listens on %s, beyond this machine; /metrics %s%n", adminHost,
                    metricsAuth == GatewayConfig.MetricsAuth.NONE ? "is open to anyone who reaches it (--metrics-auth none)" : "needs a token");
        }
        if (System.getenv("KEYGUARD_ADMIN_TOKEN") != null) {
            out.println("keyguard: admin token from KEYGUARD_ADMIN_TOKEN");
        } else {
            out.printf("keyguard: admin token in %s (mode 0600)%n", gateway.dataDirectory().adminTokenFile().toAbsolutePath());
        }
        lp.providers().missingCredentials().forEach((provider, variable) ->
                out.printf("keyguard: note: provider `%s` has no credential: %s is not set (its models will fail with 502)%n", provider, variable));
        out.println("keyguard: ready. Create a key:  ./keyguard keys create --policy demo --name me");
        out.flush();
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            gateway.close();
            stopped.countDown();
        }, "keyguard-shutdown"));
        stopped.await();
        return 0;
    }
}
