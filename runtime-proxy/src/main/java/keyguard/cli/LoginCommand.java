package keyguard.cli;

import java.io.PrintWriter;
import java.net.URI;
import java.time.Clock;
import java.util.concurrent.Callable;
import keyguard.admin.AdminClient;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code keyguard login}: signs an engineer in to a gateway's admin API through the
 * organisation's identity provider (the OAuth device flow: confirm a code in any browser),
 * so that {@code keyguard keys create --policy P} issues keys to them within what their
 * groups allow; {@code keyguard logout} forgets the sign-in.
 */
final class LoginCommand {
    private LoginCommand() {}

    static String adminUrl(String option) {
        String url = option != null ? option : System.getenv().getOrDefault("KEYGUARD_ADMIN_URL", "http://127.0.0.1:8081");
        return Logins.key(url);
    }

    /** The gateway signed in to or out of. */
    static final class Gateway {
        @Option(names = "--admin", paramLabel = "URL", description = "admin API (default: $KEYGUARD_ADMIN_URL or http://127.0.0.1:8081)")
        String admin;

        String url() { return adminUrl(admin); }
    }

    @Command(name = "login", description = "Sign in to a gateway through the identity provider (device flow); later commands act as you.")
    static final class Login implements Callable<Integer> {
        @Spec
        CommandSpec spec;

        @picocli.CommandLine.Mixin
        Gateway gateway;

        @Override
        public Integer call() throws Exception {
            PrintWriter out = spec.commandLine().getOut();
            PrintWriter err = spec.commandLine().getErr();
            String url = gateway.url();
            DeviceLogin flow = new DeviceLogin(Clock.systemUTC());
            try {
                DeviceLogin.Settings s = flow.settings(URI.create(url));
                DeviceLogin.Endpoints at = flow.discover(s.issuer());
                DeviceLogin.Pending p = flow.start(at, s.clientId(), s.scope());
                out.println("Signing in to " + url + " through " + DeviceLogin.printable(s.issuer()) + " (client " + DeviceLogin.printable(s.clientId()) + ")");
                out.println("To sign in, open " + p.verificationUri() + " in a browser and enter the code " + p.userCode());
                if (p.verificationUriComplete() != null) out.println("(or open " + p.verificationUriComplete() + ")");
                out.println("Waiting for the identity provider…");
                out.flush();
                DeviceLogin.Tokens t = flow.poll(at, s.clientId(), p, d -> Thread.sleep(d.toMillis()));
                DeviceLogin.forGateway(t.accessToken(), s.issuer(), s.audience());
                AdminClient.Reply who = new AdminClient(URI.create(url), t.accessToken()).get("admin/session");
                if (who.status() != 200) {
                    err.println("error: signed in at the identity provider, but the gateway refuses the sign-in: " + who.error());
                    return 1;
                }
                String user = DeviceLogin.printable(who.body().path("user").asText(who.body().path("subject").asText()));
                Logins.save(new Logins.Login(url, s.issuer(), at.token(), s.clientId(), t.accessToken(), t.refreshToken(), t.expires(), user));
                out.println("signed in to " + url + " as " + user + " (" + DeviceLogin.printable(who.body().path("role").asText()) + ")");
                var self = who.body().path("self_service");
                if (!self.isEmpty()) {
                    out.println("you may issue keys for:");
                    for (var a : self) {
                        String policy = DeviceLogin.printable(a.path("policy").asText());
                        out.println("  " + policy + "  (at most " + DeviceLogin.printable(a.path("max_lifetime").asText()) + ", "
                                + a.path("max_keys").asInt() + " active keys)   keyguard keys create --policy " + policy);
                    }
                }
                return 0;
            } catch (DeviceLogin.Failed e) {
                err.println("error: " + e.getMessage());
                return 1;
            } catch (java.io.IOException e) {
                err.println("error: " + e.getMessage());
                return 2;
            }
        }
    }

    @Command(name = "logout", description = "Forget the sign-in to a gateway.")
    static final class Logout implements Callable<Integer> {
        @Spec
        CommandSpec spec;

        @picocli.CommandLine.Mixin
        Gateway gateway;

        @Override
        public Integer call() throws Exception {
            String url = gateway.url();
            spec.commandLine().getOut().println(Logins.remove(url) ? "signed out of " + url : "not signed in to " + url);
            return 0;
        }
    }
}
