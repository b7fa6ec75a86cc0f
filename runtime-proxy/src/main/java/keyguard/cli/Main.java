package keyguard.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** {@code keyguard}: the gateway's command line. */
// scope INHERIT: every subcommand takes --help (and --version) too.
@Command(name = "keyguard", mixinStandardHelpOptions = true, scope = CommandLine.ScopeType.INHERIT, versionProvider = Main.Version.class,
        description = "On-premise AI gateway with virtual API keys and policy-as-code.",
        subcommands = {ServeCommand.class, LoginCommand.Login.class, LoginCommand.Logout.class, KeysCommand.class, ServiceAccountsCommand.class, AlertsCommand.class, AuditCommand.class, SpendCommand.class, FleetCommand.class, CheckCommand.class, TestCommand.class,
                FmtCommand.class, ExplainCommand.class, ReplayCommand.class,
                CommandLine.HelpCommand.class})
public final class Main {

    public static void main(String[] args) {
        if (System.getProperty("java.util.logging.SimpleFormatter.format") == null) {
            System.setProperty("java.util.logging.SimpleFormatter.format", "%1$tFT%1$tT.%1$tLZ %4$s %3$s: %5$s%6$s%n");
            LogFormat.install();
            // The gateway logs a line per request: written off the request's thread, in batches.
            if (args.length > 0 && args[0].equals("serve")) AsyncLogHandler.install();
        }
        System.exit(run(args));
    }

    /** Runs a command line and returns its exit code (for tests: no System.exit). */
    public static int run(String... args) {
        return run(new java.io.PrintWriter(System.out, true), new java.io.PrintWriter(System.err, true), args);
    }

    /** Runs a command line with the given output streams. */
    public static int run(java.io.PrintWriter out, java.io.PrintWriter err, String... args) {
        CommandLine cl = new CommandLine(new Main());
        cl.setCaseInsensitiveEnumValuesAllowed(true); // `--backend interpreter`, as the help says
        cl.setOut(out);
        cl.setErr(err);
        cl.setExecutionExceptionHandler((ex, cmd, parse) -> {
            cmd.getErr().println("error: " + (ex.getMessage() == null ? ex.toString() : ex.getMessage()));
            return 2;
        });
        int code = cl.execute(args);
        out.flush();
        err.flush();
        return code;
    }

    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            String v = Main.class.getPackage().getImplementationVersion();
            return new String[] {"keyguard " + (v == null ? "dev" : v) + " (Java " + Runtime.version() + ")"};
        }
    }
}
