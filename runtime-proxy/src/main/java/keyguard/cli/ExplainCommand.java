package keyguard.cli;

import java.util.concurrent.Callable;
import picocli.CommandLine.Command;

@Command(name = "explain", description = "Explain one decision.")
final class ExplainCommand implements Callable<Integer> {
    @Override
    public Integer call() { return 2; }
}
