package keyguard.cli;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import keyguard.admin.AdminClient;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** Spend by group from a running gateway: {@code keyguard spend --group-by policy,model --from 2026-11-01}. */
@Command(name = "spend", description = "Print spend and requests grouped by day, key, policy, model or tag (from the audit log).")
final class SpendCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Mixin
    KeysCommand.AdminOptions admin;

    @Option(names = "--group-by", paramLabel = "DIMS", description = "comma-separated: day, key, policy, model, owner, team, org, tag or tag:NAME (default: policy)")
    String groupBy = "policy";

    @Option(names = "--from", paramLabel = "DATE", description = "first day, UTC (default: 30 days ago)")
    String from;

    @Option(names = "--to", paramLabel = "DATE", description = "last day, UTC, inclusive (default: today)")
    String to;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        StringBuilder path = new StringBuilder("admin/spend?group_by=").append(groupBy);
        if (from != null) path.append("&from=").append(from);
        if (to != null) path.append("&to=").append(to);
        AdminClient.Reply r;
        try {
            r = admin.send(spec, c -> c.get(path.toString()), 200);
        } catch (KeysCommand.AdminOptions.Failed f) {
            return f.code;
        }
        JsonNode body = r.body();
        List<String> dims = List.of(groupBy.split(","));
        List<String> header = new ArrayList<>(dims);
        header.add("usd");
        header.add("requests");
        out.println(String.join("\t", header));
        for (JsonNode row : body.path("rows")) {
            List<String> cells = new ArrayList<>();
            for (String d : dims) cells.add(row.path(d).asText());
            cells.add(row.path("cost_usd").asText());
            cells.add(row.path("requests").asText());
            out.println(String.join("\t", cells));
        }
        out.printf("total\t%s usd\t%d requests (%s .. %s)%n", keyguard.policy.Money.format(body.path("total_cost_micros").asLong()),
                body.path("total_requests").asLong(), body.path("from").asText(), body.path("to").asText());
        return 0;
    }
}
