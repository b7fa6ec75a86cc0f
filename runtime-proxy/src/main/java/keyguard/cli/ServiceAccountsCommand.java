package keyguard.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.PrintWriter;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.Callable;
import keyguard.admin.AdminClient;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code keyguard service-accounts}: identities owned by a group of the directory and bound
 * to one policy, whose keys outlive the people who made them (docs/identity.md). Their keys
 * are made with {@code keyguard keys create --owner service:NAME --policy P}.
 */
@Command(name = "service-accounts", description = "Manage service accounts: identities owned by a group, bound to a policy (through the admin API).",
        subcommands = {ServiceAccountsCommand.Create.class, ServiceAccountsCommand.ListAccounts.class, ServiceAccountsCommand.Show.class,
                ServiceAccountsCommand.Delete.class})
final class ServiceAccountsCommand {
    private ServiceAccountsCommand() {}

    @Command(name = "create", sortOptions = false, description = "Create a service account (an admin, or a team admin of its policy).")
    static final class Create implements Callable<Integer> {
        @Spec
        CommandSpec spec;

        @Mixin
        KeysCommand.AdminOptions admin;

        @Option(names = "--name", required = true, description = "lower-case letters, digits, `.`, `_`, `-`")
        String name;

        @Option(names = "--group", required = true, description = "the owning group, as the directory names it")
        String group;

        @Option(names = "--policy", required = true, description = "the policy its keys are bound to")
        String policy;

        @Option(names = "--description", description = "what it is for")
        String description;

        @Option(names = "--max-lifetime", paramLabel = "DURATION", description = "the longest lifetime of a key its group's members issue it (default: 90d)")
        String maxLifetime;

        @Option(names = "--max-keys", paramLabel = "N", description = "the most active keys its group's members issue it (default: 5)")
        Integer maxKeys;

        @Override
        public Integer call() throws Exception {
            ObjectNode body = new ObjectMapper().createObjectNode().put("name", name).put("group", group).put("policy", policy);
            if (description != null) body.put("description", description);
            if (maxLifetime != null) body.put("max_lifetime", maxLifetime);
            if (maxKeys != null) body.put("max_keys", maxKeys);
            AdminClient.Reply r;
            try {
                r = admin.send(spec, c -> c.post("admin/service-accounts", body), 201);
            } catch (KeysCommand.AdminOptions.Failed f) {
                return f.code;
            }
            spec.commandLine().getOut().printf("created service account %s (group %s, policy %s); issue it keys with: keyguard keys create --owner %s --policy %s%n",
                    r.body().path("name").asText(), r.body().path("group").asText(), r.body().path("policy").asText(), r.body().path("owner").asText(),
                    r.body().path("policy").asText());
            return 0;
        }
    }

    @Command(name = "list", description = "List the service accounts you may read.")
    static final class ListAccounts implements Callable<Integer> {
        @Spec
        CommandSpec spec;

        @Mixin
        KeysCommand.AdminOptions admin;

        @Override
        public Integer call() throws Exception {
            AdminClient.Reply r;
            try {
                r = admin.send(spec, c -> c.get("admin/service-accounts"), 200);
            } catch (KeysCommand.AdminOptions.Failed f) {
                return f.code;
            }
            PrintWriter out = spec.commandLine().getOut();
            out.printf("%-24s  %-20s  %-16s  %s%n", "NAME", "GROUP", "POLICY", "ACTIVE KEYS");
            for (JsonNode a : r.body().path("service_accounts")) {
                out.printf("%-24s  %-20s  %-16s  %d%n", a.path("name").asText(), a.path("group").asText(), a.path("policy").asText(), a.path("active_keys").asLong());
            }
            return 0;
        }
    }

    @Command(name = "show", description = "Show a service account and its keys.")
    static final class Show implements Callable<Integer> {
        @Spec
        CommandSpec spec;

        @Mixin
        KeysCommand.AdminOptions admin;

        @Parameters(paramLabel = "NAME")
        String name;

        @Override
        public Integer call() throws Exception {
            AdminClient.Reply r;
            try {
                r = admin.send(spec, c -> c.get("admin/service-accounts/" + URLEncoder.encode(name, StandardCharsets.UTF_8)), 200);
            } catch (KeysCommand.AdminOptions.Failed f) {
                return f.code;
            }
            PrintWriter out = spec.commandLine().getOut();
            JsonNode a = r.body();
            out.printf("%s: group %s, policy %s, keys live at most %s, at most %d active; created by %s at %s%n", a.path("name").asText(), a.path("group").asText(),
                    a.path("policy").asText(), a.path("max_lifetime").asText(), a.path("max_keys").asInt(), a.path("created_by").asText(), a.path("created_at").asText());
            for (JsonNode k : a.path("keys")) {
                out.printf("  %-12s  %-20s  %-8s  %s%n", k.path("id").asText(), k.path("name").asText(), k.path("state").asText(),
                        k.path("expires_at").isNull() ? "never" : k.path("expires_at").asText());
            }
            return 0;
        }
    }

    @Command(name = "delete", description = "Delete a service account and revoke its keys.")
    static final class Delete implements Callable<Integer> {
        @Spec
        CommandSpec spec;

        @Mixin
        KeysCommand.AdminOptions admin;

        @Parameters(paramLabel = "NAME")
        String name;

        @Override
        public Integer call() throws Exception {
            AdminClient.Reply r;
            try {
                r = admin.send(spec, c -> c.delete("admin/service-accounts/" + URLEncoder.encode(name, StandardCharsets.UTF_8)), 200);
            } catch (KeysCommand.AdminOptions.Failed f) {
                return f.code;
            }
            spec.commandLine().getOut().println("deleted service account " + name + "; keys revoked: " + r.body().path("revoked_keys"));
            return 0;
        }
    }
}
