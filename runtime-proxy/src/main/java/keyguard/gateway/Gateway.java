package keyguard.gateway;

import io.undertow.Undertow;
import io.undertow.UndertowOptions;
import io.undertow.server.HttpHandler;
import io.undertow.server.HttpServerExchange;
import io.undertow.util.Methods;
import java.net.InetSocketAddress;
import java.util.Map;
import keyguard.admin.AdminApi;
import keyguard.audit.AuditLog;
import keyguard.counters.ChronicleCounterStore;
import keyguard.counters.Enforcer;
import keyguard.keys.ChronicleKeyStore;
import keyguard.keys.KeySecrets;
import keyguard.keys.KeyStore;
import keyguard.metrics.Metrics;
import keyguard.providers.Providers;
import keyguard.proxy.AccessLog;
import keyguard.proxy.InferenceHandler;
import keyguard.proxy.KeyAuth;
import keyguard.proxy.ModelsHandler;
import keyguard.revision.LoadedPolicies;
import keyguard.revision.PolicyLoader;
import keyguard.wire.ApiShape;
import keyguard.wire.Endpoint;
import keyguard.wire.Responses;

/**
 * A running gateway: the data plane (inference endpoints) and the admin API, each on its
 * own listener, over one key store and one policy snapshot. {@link #close} stops both and
 * closes the store.
 *
 * <p>Routes are exact: {@code /v1/chat/completions}, {@code /v1/embeddings},
 * {@code /v1/messages}, {@code /v1/models}, {@code /healthz}. Anything else is a 404 in the
 * shape of its family; there is no passthrough that skips the decision.
 */
public final class Gateway implements AutoCloseable {
    private final Undertow data;
    private final Undertow admin;
    private final KeyStore keys;
    private final Enforcer enforcer;
    private final AuditLog audit;
    private final PolicyLoader current;
    private final String adminToken;
    private final DataDirectory dir;
    private final keyguard.fleet.Fleet fleet;
    private final keyguard.replay.Shadow shadow;
    /** The users and groups provisioned over SCIM. */
    private final keyguard.identity.Directory directory;
    /** Trusted workload-token issuers, or null. */
    private final keyguard.identity.WorkloadIdentity workloads;
    private final keyguard.alerts.AlertCenter alerts;
    private final keyguard.delegation.CarveOuts carveOuts;

    private Gateway(Undertow data, Undertow admin, KeyStore keys, Enforcer enforcer, AuditLog audit, PolicyLoader current,
                    String adminToken, DataDirectory dir, keyguard.fleet.Fleet fleet, keyguard.replay.Shadow shadow,
                    keyguard.identity.Directory directory, keyguard.identity.WorkloadIdentity workloads, keyguard.alerts.AlertCenter alerts,
                    keyguard.delegation.CarveOuts carveOuts) {
        this.alerts = alerts;
        this.carveOuts = carveOuts;
        this.directory = directory;
        this.workloads = workloads;
        this.shadow = shadow;
        this.fleet = fleet;
        this.data = data;
        this.admin = admin;
        this.keys = keys;
        this.enforcer = enforcer;
        this.audit = audit;
        this.current = current;
        this.adminToken = adminToken;
        this.dir = dir;
    }

    /** Compiles the policies, opens the data directory and starts both listeners. */
    public static Gateway start(GatewayConfig cfg) {
        // Warm up the tokenizers before the first request pays for loading them, beside the rest of the start-up
        // (their vocabularies take a few hundred milliseconds to load; a request that comes first waits for the class init).
        Thread.ofPlatform().name("keyguard-tokenizer-warmup").daemon().start(() -> {
            keyguard.tokens.TokenCounter.CL100K.count("warm up");
            keyguard.tokens.TokenCounter.O200K.count("warm up");
        });
        keyguard.functions.FunctionLibrary plugins = cfg.plugins() == null ? keyguard.functions.FunctionLibrary.NONE
                : keyguard.functions.FunctionLibrary.load(cfg.plugins());
        if (cfg.plugins() != null) {
            System.getLogger("keyguard.functions").log(System.Logger.Level.INFO, "plugins: " + plugins.functions().size()
                    + " function(s) from " + plugins.jars().size() + " jar(s) in " + cfg.plugins() + " " + plugins.functions().keySet());
        }
        DataDirectory dir = DataDirectory.open(cfg.data());
        // Secrets first: a blank or short admin token stops the start before anything listens.
        KeySecrets secrets = new KeySecrets(dir.serverSecret(cfg.env().apply("KEYGUARD_SERVER_SECRET")));
        String adminToken = dir.adminToken(cfg.env().apply("KEYGUARD_ADMIN_TOKEN"));
        String metricsToken = cfg.metricsNeedToken() ? dir.metricsToken(cfg.env().apply("KEYGUARD_METRICS_TOKEN")) : null;
        String scimToken = dir.scimToken(cfg.env().apply("KEYGUARD_SCIM_TOKEN"));

        PolicyLoader current = new PolicyLoader(cfg.policies(), cfg.env(), new Providers.HttpUpstreamHolder(upstreamTrust(cfg)), cfg.clock(), plugins, cfg.trust());
        KeyStore keys = null;
        Enforcer enforcer = null;
        AuditLog audit = null;
        keyguard.fleet.Fleet fleet = null;
        keyguard.replay.Shadow shadow = null;
        keyguard.alerts.AlertCenter alerts = null;
        keyguard.delegation.CarveOuts carveOuts = null;
        keyguard.identity.Directory directory = null;
        keyguard.identity.WorkloadIdentity workloads = null;
        java.util.concurrent.atomic.AtomicReference<Enforcer> inFlight = new java.util.concurrent.atomic.AtomicReference<>();
        // Policies compile beside the opening of the data directory's files (both take a second or
        // so on a small machine); a fleet node compiles first, since it joins with its revision.
        java.util.concurrent.CompletableFuture<LoadedPolicies> compiling = cfg.fleet() != null ? null
                : java.util.concurrent.CompletableFuture.supplyAsync(current::loadInitial,
                        task -> Thread.ofPlatform().name("keyguard-policy-compile").daemon().start(task));
        try {
            if (compiling == null) current.loadInitial();
            if (cfg.fleet() != null) {
                // Join the fleet before anything serves: the keys are loaded and current first.
                fleet = keyguard.fleet.Fleet.join(cfg.fleet(), dir.keysFile(), dir.fleetId(), secrets.fingerprint(), () -> new keyguard.fleet.FleetNodes.Status(
                        current.current().set().revision(), inFlight.get() == null ? 0 : inFlight.get().inFlight()));
                keys = fleet.keys();
            } else {
                keys = ChronicleKeyStore.open(dir.keysFile(), 100_000);
            }
            audit = AuditLog.open(dir.root().resolve("audit"));
            GatewayConfig.Counters cc = cfg.counters();
            if (fleet != null) {
                // The node's slices of fleet counters: rows of their own, fresh at every start
                // (what an earlier run held is settled in Redis by its leases).
                java.nio.file.Path slices = dir.root().resolve("fleet");
                DataDirectory.deleteRecursively(slices);
                java.nio.file.Files.createDirectories(slices);
                enforcer = new Enforcer(ChronicleCounterStore.open(slices, cc.maxCounters(), cc.maxInFlight()), fleet.ledger(), cfg.clock(),
                        cc.reservationTtl(), cc.reapEvery());
                fleet.feedSpend(audit.queue());
            } else {
                enforcer = new Enforcer(ChronicleCounterStore.open(dir.root(), cc.maxCounters(), cc.maxInFlight()), cfg.clock(),
                        cc.reservationTtl(), cc.reapEvery());
            }
            inFlight.set(enforcer);
            if (compiling != null) compiled(compiling);
            // Alerts of budgets and limits: raised by the enforcer, kept in the data directory's outbox until sent.
            alerts = new keyguard.alerts.AlertCenter(dir.root().resolve("alerts"), audit, () -> current.current().set().channels(), cfg.env(), cfg.clock());
            if (fleet != null) alerts.fleet(fleet::firstToAlert);
            enforcer.alerts(alerts::fire);
            workloads = cfg.workloadIdentity() == null ? null : keyguard.identity.WorkloadIdentity.load(cfg.workloadIdentity(), cfg.clock());
            KeyAuth auth = new KeyAuth(keys, secrets, cfg.clock(), workloads);
            Enforcer counters = enforcer;
            carveOuts = new keyguard.delegation.CarveOuts(enforcer, keys, current::current, audit, cfg.clock());
            carveOuts.start(cc.reapEvery());
            Metrics metrics = new Metrics(current::current, current::failures, counters::inFlight);
            if (fleet != null) metrics.fleet(fleet);
            shadow = new keyguard.replay.Shadow(audit, cfg.clock());
            metrics.shadow(shadow);
            AccessLog log = new AccessLog(audit, metrics, cfg.auditFailOpen(), cfg.node(), shadow, () -> current.current().set().org());
            keyguard.proxy.CallerTimeouts callerTimeouts = cfg.connections().caller();
            Map<String, HttpHandler> routes = Map.of(
                    Endpoint.CHAT_COMPLETIONS.path(), new InferenceHandler(Endpoint.CHAT_COMPLETIONS, auth, current::current, cfg.maxBodyBytes(), enforcer, log, callerTimeouts),
                    Endpoint.EMBEDDINGS.path(), new InferenceHandler(Endpoint.EMBEDDINGS, auth, current::current, cfg.maxBodyBytes(), enforcer, log, callerTimeouts),
                    Endpoint.MESSAGES.path(), new InferenceHandler(Endpoint.MESSAGES, auth, current::current, cfg.maxBodyBytes(), enforcer, log, callerTimeouts),
                    "/v1/models", new ModelsHandler(auth, current::current),
                    keyguard.proxy.SubKeysHandler.PATH, new keyguard.proxy.SubKeysHandler(auth, keys, secrets, current::current, audit, cfg.clock(), carveOuts),
                    "/healthz", ex -> Responses.json(ex, 200, "{\"status\":\"ok\"}"));
            HttpHandler router = exchange -> {
                HttpHandler h = routes.get(exchange.getRelativePath().startsWith(keyguard.proxy.SubKeysHandler.PATH + "/")
                        ? keyguard.proxy.SubKeysHandler.PATH : exchange.getRelativePath());
                if (h == null) notFound(exchange);
                else if (exchange.getRelativePath().equals("/v1/models") || exchange.getRelativePath().equals("/healthz")) {
                    if (exchange.getRequestMethod().equals(Methods.GET)) h.handleRequest(exchange);
                    else notFound(exchange);
                } else h.handleRequest(exchange);
            };
            GatewayConfig.Connections conn = cfg.connections();
            Undertow dataServer = Undertow.builder()
                    .addHttpListener(cfg.port(), cfg.host())
                    .setServerOption(UndertowOptions.MAX_ENTITY_SIZE, InferenceHandler.drainLimit(cfg.maxBodyBytes()))
                    .setServerOption(UndertowOptions.ALWAYS_SET_KEEP_ALIVE, true)
                    // A caller's slowness is bounded (slowloris): the request head must arrive within
                    // requestHeaders and an idle keep-alive connection is closed here; slow bodies and
                    // stuck writes are cut by the request path (CallerTimeouts), never by XNIO's
                    // READ_TIMEOUT/WRITE_TIMEOUT, whose write timeout would cut a silent stream
                    // (and whose read timeout would cut the reads ClientStream.keepReadsRegistered
                    // leaves on during an upstream call).
                    .setServerOption(UndertowOptions.REQUEST_PARSE_TIMEOUT, millis(conn.requestHeaders()))
                    .setServerOption(UndertowOptions.NO_REQUEST_TIMEOUT, millis(conn.keepAliveIdle()))
                    .setServerOption(UndertowOptions.MAX_HEADER_SIZE, 64 * 1024)
                    .setServerOption(UndertowOptions.MAX_HEADERS, 100)
                    // Beyond the cap, the listener stops accepting until a tenth of them closed.
                    .setSocketOption(org.xnio.Options.CONNECTION_HIGH_WATER, conn.maxConnections())
                    .setSocketOption(org.xnio.Options.CONNECTION_LOW_WATER, Math.max(1, conn.maxConnections() * 9 / 10))
                    // Stream events are small writes: without this, Nagle's algorithm holds each
                    // one until the caller's delayed ACK (up to ~40 ms) arrives.
                    .setSocketOption(org.xnio.Options.TCP_NODELAY, true)
                    .setHandler(router)
                    .build();
            // In a fleet the directory is Redis's: SCIM calls behind a load balancer land on any node.
            directory = fleet != null ? keyguard.identity.Directory.open(fleet.directoryStore()) : keyguard.identity.Directory.open(dir.directoryFile());
            keyguard.admin.Sessions sessions = new keyguard.admin.Sessions(cfg.clock());
            AdminApi adminApi = new AdminApi(keys, secrets, current, audit, metrics, cfg.oidc(), adminToken, metricsToken, cfg.clock(), fleet, shadow,
                    sessions, enforcer, directory, alerts);
            keyguard.console.OidcSignIn signIn = cfg.oidc() != null && cfg.oidc().clientId() != null
                    ? new keyguard.console.OidcSignIn(cfg.oidc(), adminApi.auth(), cfg.clock()) : null;
            Undertow adminServer = Undertow.builder()
                    .addHttpListener(cfg.adminPort(), cfg.adminHost())
                    .setServerOption(UndertowOptions.MAX_ENTITY_SIZE, 1L << 20)
                    .setServerOption(UndertowOptions.REQUEST_PARSE_TIMEOUT, millis(conn.requestHeaders()))
                    .setServerOption(UndertowOptions.NO_REQUEST_TIMEOUT, millis(conn.keepAliveIdle()))
                    // Admin bodies are read blocking on a worker: XNIO's read timeout bounds that wait.
                    .setSocketOption(org.xnio.Options.READ_TIMEOUT, millis(conn.bodyRead()))
                    // SCIM provisioning (docs/identity.md); the console's files and sign-in, then the admin API (docs/console.md).
                    .setHandler(io.undertow.Handlers.path(new keyguard.console.Console(adminApi, signIn))
                            .addPrefixPath("/scim/v2", new keyguard.identity.ScimApi(scimToken, directory, keys, audit, cfg.clock(), sessions::endAllOf)))
                    .build();
            dataServer.start();
            try {
                adminServer.start();
                if (cfg.policyWatchDebounce() != null) current.watch(cfg.policyWatchDebounce());
            } catch (RuntimeException | java.io.IOException e) {
                dataServer.stop();
                adminServer.stop();
                throw e instanceof RuntimeException r ? r : new java.io.UncheckedIOException((java.io.IOException) e);
            }
            return new Gateway(dataServer, adminServer, keys, enforcer, audit, current, adminToken, dir, fleet, shadow, directory, workloads, alerts, carveOuts);
        } catch (RuntimeException | java.io.IOException e) {
            if (directory != null) directory.close();
            if (workloads != null) workloads.close();
            if (compiling != null) compiling.exceptionally(t -> null).join(); // never close the loader under a compile
            if (shadow != null) shadow.close();
            if (carveOuts != null) carveOuts.close();
            if (enforcer != null) enforcer.close();
            if (alerts != null) alerts.close();
            if (fleet != null) fleet.close();
            else if (keys != null) keys.close();
            if (audit != null) audit.close();
            current.close();
            throw e instanceof RuntimeException r ? r : new java.io.UncheckedIOException((java.io.IOException) e);
        }
    }

    /** Waits for the initial compile; its failure (a policy that does not compile) is thrown as it was. */
    /**
     * {@code KEYGUARD_UPSTREAM_CA}: a PEM file of certificates to trust for HTTPS upstreams
     * beside the JDK's (a self-hosted model server behind a private CA). Operator
     * configuration: no policy file can name a trust root.
     */
    private static java.nio.file.Path upstreamTrust(GatewayConfig cfg) {
        String file = cfg.env().apply("KEYGUARD_UPSTREAM_CA");
        if (file == null || file.isBlank()) return null;
        java.nio.file.Path p = java.nio.file.Path.of(file);
        if (!java.nio.file.Files.isReadable(p)) throw new IllegalArgumentException("KEYGUARD_UPSTREAM_CA: cannot read " + file);
        return p;
    }

    private static void compiled(java.util.concurrent.CompletableFuture<LoadedPolicies> compiling) {
        try {
            compiling.join();
        } catch (java.util.concurrent.CompletionException e) {
            if (e.getCause() instanceof RuntimeException r) throw r;
            if (e.getCause() instanceof Error err) throw err;
            throw e;
        }
    }

    private static int millis(java.time.Duration d) {
        return (int) Math.min(Integer.MAX_VALUE, d.toMillis());
    }

    private static void notFound(HttpServerExchange exchange) {
        exchange.setPersistent(false); // the body is not read: close instead of draining it
        String path = exchange.getRelativePath();
        ApiShape shape = path.startsWith("/v1/messages") ? ApiShape.ANTHROPIC : ApiShape.OPENAI;
        Responses.error(exchange, shape, keyguard.wire.ErrorCode.NO_ROUTE.error(exchange.getRequestMethod(), path), Map.of());
    }

    public InetSocketAddress address() {
        return (InetSocketAddress) data.getListenerInfo().get(0).getAddress();
    }

    public InetSocketAddress adminAddress() {
        return (InetSocketAddress) admin.getListenerInfo().get(0).getAddress();
    }

    public String adminToken() { return adminToken; }

    public DataDirectory dataDirectory() { return dir; }

    public LoadedPolicies policies() { return current.current(); }

    public PolicyLoader policyLoader() { return current; }

    public KeyStore keys() { return keys; }

    public Enforcer enforcer() { return enforcer; }

    public AuditLog audit() { return audit; }

    /** The shadow revision's holder ({@code /admin/shadow}). */
    public keyguard.replay.Shadow shadow() { return shadow; }

    /** The fleet this gateway is part of, or null for a single node. */
    public keyguard.fleet.Fleet fleet() { return fleet; }

    @Override
    public void close() {
        current.close();
        try {
            data.stop();
        } finally {
            try {
                admin.stop();
            } finally {
                try {
                    carveOuts.close(); // an ended sub-key's carve-out not yet returned is returned by the next start's sweep
                    enforcer.close(); // settles what is in flight, which records their audit events
                } finally {
                    alerts.close(); // what it has not sent stays in the outbox, sent after a restart
                    try {
                        if (fleet != null) fleet.close(); // returns the node's slices, sends its last spend, closes the key store
                        else keys.close();
                    } finally {
                        shadow.close();
                        directory.close();
                        if (workloads != null) workloads.close();
                        audit.close();
                    }
                }
            }
        }
    }
}
