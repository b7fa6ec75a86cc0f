package keyguard.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.concurrent.Callable;
import keyguard.admin.AdminClient;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code keyguard alerts test CHANNEL}: sends a test message through a channel of the running gateway (docs/organisation.md). */
@Command(name = "alerts", description = "Spend and limit alerts (through the admin API).", subcommands = AlertsCommand.Test.class)
final class AlertsCommand {
    private AlertsCommand() {}

    @Command(name = "test", description = "Send a test message through a channel, now; exit 0 when it was delivered.")
    static final class Test implements Callable<Integer> {
        @Spec
        CommandSpec spec;

        @Mixin
        KeysCommand.AdminOptions admin;

        @Parameters(paramLabel = "CHANNEL", description = "a channel the loaded revision declares")
        String channel;

        @Override
        public Integer call() throws Exception {
            AdminClient.Reply r;
            try {
                r = admin.send(spec, c -> c.post("admin/alerts/test", new ObjectMapper().createObjectNode().put("channel", channel)), 200);
            } catch (KeysCommand.AdminOptions.Failed f) {
                return f.code;
            }
            spec.commandLine().getOut().printf("sent a test message through channel %s%n", r.body().path("channel").asText());
            return 0;
        }
    }
}
