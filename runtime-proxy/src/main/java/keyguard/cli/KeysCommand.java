package keyguard.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.PrintWriter;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import keyguard.admin.AdminClient;
import keyguard.gateway.DataDirectory;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

@Command(name = "keys", description = "Manage virtual keys of a running gateway (through its admin API).",
        subcommands = {KeysCommand.Create.class, KeysCommand.ListKeys.class, KeysCommand.Revoke.class, KeysCommand.Rotate.class})
final class KeysCommand {

    /** Where the admin API is and how to authenticate to it. */
    static final class AdminOptions {
        @Option(names = "--admin", paramLabel = "URL", description = "admin API (default: $KEYGUARD_ADMIN_URL or http://127.0.0.1:8081)")
        String admin;

        @Option(names = "--data", paramLabel = "DIR", description = "data directory holding admin.token (default: ./data)")
        Path data = Path.of("data");

        /**
         * The client, authenticated with (in this order) {@code $KEYGUARD_ADMIN_TOKEN}, the
         * sign-in {@code keyguard login} left for this admin URL (renewed when due), or the
         * admin token in the data directory.
         */
        AdminClient client() throws IOException, InterruptedException {
            String url = LoginCommand.adminUrl(admin);
            String token = System.getenv("KEYGUARD_ADMIN_TOKEN");
            if (token == null || token.isBlank()) {
                Logins.Login login = Logins.find(url);
                if (login != null) return new AdminClient(URI.create(url), Logins.token(login, java.time.Clock.systemUTC()));
                Path file = data.resolve(DataDirectory.ADMIN_TOKEN_FILE);
                if (!Files.exists(file)) {
                    throw new IOException("no credential: run `keyguard login`, set KEYGUARD_ADMIN_TOKEN, or point --data at the gateway's data directory ("
                            + file + " not found)");
                }
                token = Files.readString(file).strip();
            }
            return new AdminClient(URI.create(url), token);
        }

        /** One admin request, as every command needs it. */
        interface Call {
            AdminClient.Reply send(AdminClient client) throws IOException, InterruptedException;
        }

        /** A command's failure, already explained on stderr; {@code code} is its exit code. */
        static final class Failed extends Exception {
            final int code;

            Failed(int code) {
                super(null, null, false, false);
                this.code = code;
            }
        }

        /** Sends one request; unreachable (exit 2) or answered with another status than {@code ok} (exit 1) prints why. */
        AdminClient.Reply send(CommandSpec spec, Call call, int... ok) throws Failed, InterruptedException {
            AdminClient.Reply r;
            try {
                r = call.send(client());
            } catch (IOException e) {
                spec.commandLine().getErr().println("error: " + e.getMessage());
                throw new Failed(2);
            }
            for (int status : ok) if (r.status() == status) return r;
            spec.commandLine().getErr().println("error: " + r.error());
            throw new Failed(1);
        }
    }

    @Command(name = "create", sortOptions = false, description = "Create a key; prints its secret once, on a line of its own.")
    static final class Create implements Callable<Integer> {
        @Spec
        CommandSpec spec;

        @Mixin
        AdminOptions admin;

        @Option(names = "--policy", required = true, description = "the policy the key is bound to")
        String policy;

        @Option(names = "--name", description = "a name for people and logs (default: the policy's name)")
        String name;

        @Option(names = "--owner", description = "user:<userName>, group:<name>, service:<account>, or a team's name (default: you)")
        String owner = "";

        @Option(names = "--label", paramLabel = "K=V", description = "a label, repeatable: --label env=prod")
        Map<String, String> labels = new LinkedHashMap<>();

        @Option(names = "--expires-in", paramLabel = "DURATION", description = "e.g. 30d, 12h (default: never)")
        String expiresIn;

        @Override
        public Integer call() throws Exception {
            PrintWriter out = spec.commandLine().getOut();
            ObjectNode body = new ObjectMapper().createObjectNode().put("policy", policy).put("name", name == null ? policy : name);
            if (!owner.isEmpty()) body.put("owner", owner);
            ObjectNode l = body.putObject("labels");
            labels.forEach(l::put);
            if (expiresIn != null) body.put("expires_in", expiresIn);
            AdminClient.Reply r;
            try {
                r = admin.send(spec, c -> c.post("admin/keys", body), 201);
            } catch (AdminOptions.Failed f) {
                return f.code;
            }
            JsonNode k = r.body();
            out.printf("created key %s (%s) for policy %s, owned by %s%s%n", k.path("id").asText(), k.path("name").asText(), k.path("policy").asText(),
                    k.path("owner").asText(),
                    k.path("expires_at").isNull() ? "" : ", expires " + k.path("expires_at").asText());
            out.println("secret (shown once; store it now):");
            out.println(k.path("secret").asText());
            return 0;
        }
    }

    @Command(name = "list", description = "List keys (never their secrets).")
    static final class ListKeys implements Callable<Integer> {
        @Spec
        CommandSpec spec;

        @Mixin
        AdminOptions admin;

        @Override
        public Integer call() throws Exception {
            PrintWriter out = spec.commandLine().getOut();
            AdminClient.Reply r;
            try {
                r = admin.send(spec, c -> c.get("admin/keys"), 200);
            } catch (AdminOptions.Failed f) {
                return f.code;
            }
            out.printf("%-12s  %-20s  %-12s  %-8s  %s%n", "ID", "NAME", "POLICY", "STATE", "EXPIRES");
            for (JsonNode k : r.body().path("keys")) {
                out.printf("%-12s  %-20s  %-12s  %-8s  %s%n", k.path("id").asText(), k.path("name").asText(), k.path("policy").asText(),
                        k.path("state").asText(), k.path("expires_at").isNull() ? "never" : k.path("expires_at").asText());
            }
            return 0;
        }
    }

    @Command(name = "revoke", description = "Revoke a key: its next request is refused (401).")
    static final class Revoke implements Callable<Integer> {
        @Spec
        CommandSpec spec;

        @Mixin
        AdminOptions admin;

        @Parameters(paramLabel = "ID", description = "the key id (the part after `kg-`)")
        String id;

        @Override
        public Integer call() throws Exception {
            try {
                admin.send(spec, c -> c.post("admin/keys/" + id + "/revoke", new ObjectMapper().createObjectNode()), 200);
            } catch (AdminOptions.Failed f) {
                return f.code;
            }
            spec.commandLine().getOut().println("revoked key " + id);
            return 0;
        }
    }

    @Command(name = "rotate", sortOptions = false,
            description = "Give a key a new secret; the old one keeps working for the grace period. Prints the new secret once.")
    static final class Rotate implements Callable<Integer> {
        @Spec
        CommandSpec spec;

        @Mixin
        AdminOptions admin;

        @Parameters(paramLabel = "ID", description = "the key id (the part after `kg-`)")
        String id;

        @Option(names = "--grace", paramLabel = "DURATION", description = "how long the old secret keeps working, e.g. 1h, 7d (default: 0s)")
        String grace = "0s";

        @Option(names = "--request-id", paramLabel = "ID",
                description = "makes the rotation idempotent: retrying with the same id returns the same secret (default: a fresh id)")
        String requestId = java.util.UUID.randomUUID().toString();

        @Override
        public Integer call() throws Exception {
            PrintWriter out = spec.commandLine().getOut();
            AdminClient.Reply r;
            try {
                r = admin.send(spec, c -> c.post("admin/keys/" + id + "/rotate",
                        new ObjectMapper().createObjectNode().put("grace", grace).put("request_id", requestId)), 200, 201);
            } catch (AdminOptions.Failed f) {
                return f.code;
            }
            JsonNode k = r.body();
            out.printf("rotated key %s; the old secret works until %s (request id %s)%n", id,
                    k.path("rotation").path("previous_valid_until").asText(), requestId);
            out.println("new secret (shown once; store it now):");
            out.println(k.path("secret").asText());
            return 0;
        }
    }
}
