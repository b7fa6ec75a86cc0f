package keyguard.cli;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.PrintWriter;
import java.util.concurrent.Callable;
import keyguard.admin.AdminClient;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/** The nodes of a fleet as a running gateway sees them: {@code keyguard fleet}. */
@Command(name = "fleet", description = {"Print the nodes of the fleet this gateway belongs to: liveness, policy revision, requests in flight, Redis latency.",
        "Exits 3 when live nodes serve different policy revisions."})
final class FleetCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Mixin
    KeysCommand.AdminOptions admin;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        AdminClient.Reply r;
        try {
            r = admin.send(spec, c -> c.get("admin/fleet"), 200);
        } catch (KeysCommand.AdminOptions.Failed f) {
            return f.code;
        }
        JsonNode body = r.body();
        if (!"fleet".equals(body.path("mode").asText())) {
            out.println("single node: " + body.path("node").asText());
            return 0;
        }
        out.printf("fleet on %s, asked node %s%n", body.path("redis").asText(), body.path("node").asText());
        out.println("node\tlive\theartbeat_age_ms\trevision\tin_flight\tredis_latency_us\tversion");
        for (JsonNode n : body.path("nodes")) {
            out.printf("%s\t%s\t%d\t%s%s\t%d\t%d\t%s%n", n.path("name").asText(), n.path("live").asBoolean() ? "yes" : "no",
                    n.path("heartbeat_age_ms").asLong(), n.path("revision").asText(), n.path("revision_differs").asBoolean() ? " (differs)" : "",
                    n.path("in_flight").asLong(), n.path("redis_latency_us").asLong(), n.path("version").asText());
        }
        boolean consistent = body.path("consistent").asBoolean();
        out.println(consistent ? "live nodes serve one policy revision"
                : "live nodes serve " + body.path("revisions_in_service").asInt() + " policy revisions: a reload has not reached every node");
        return consistent ? 0 : 3;
    }
}
