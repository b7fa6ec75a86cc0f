package keyguard.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.stream.Stream;
import keyguard.compiler.fmt.Formatter;
import keyguard.lang.parse.PolicyParser;
import keyguard.lang.source.SourceFile;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

@Command(name = "fmt", description = {"Format .kgp files canonically, keeping comments.",
        "The output is re-parsed and compared token by token before anything is written."})
final class FmtCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--check", description = "write nothing; list files that are not formatted and exit 1 if any")
    boolean check;

    @Parameters(arity = "0..*", paramLabel = "PATHS", description = "files or directories (default: ./policies)")
    List<Path> paths = new ArrayList<>(List.of(Path.of("policies")));

    @Override
    public Integer call() throws IOException {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        List<Path> files = new ArrayList<>();
        for (Path p : paths) {
            if (Files.isDirectory(p)) {
                try (Stream<Path> walk = Files.walk(p)) {
                    walk.filter(f -> f.toString().endsWith(".kgp") && Files.isRegularFile(f)).sorted().forEach(files::add);
                }
            } else if (Files.isRegularFile(p)) {
                files.add(p);
            } else {
                err.println("error: `" + p + "` does not exist");
                return 2;
            }
        }
        int unformatted = 0;
        int broken = 0;
        for (Path f : files) {
            byte[] bytes = Files.readAllBytes(f);
            PolicyParser.Result parsed = PolicyParser.parse(f.toString(), bytes);
            if (!parsed.ok()) {
                err.print(parsed.diagnostics().render());
                err.flush();
                broken++;
                continue;
            }
            String original = new String(bytes, StandardCharsets.UTF_8);
            Formatter.Result r = Formatter.format(new SourceFile(f.toString(), original));
            if (r.text().equals(original)) continue;
            unformatted++;
            if (check) {
                out.println("not formatted: " + f);
            } else {
                Path tmp = f.resolveSibling("." + f.getFileName() + ".fmt.tmp");
                Files.writeString(tmp, r.text());
                Files.move(tmp, f, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
                out.println("formatted: " + f);
            }
        }
        if (broken > 0) {
            err.println("error: " + broken + " file(s) do not parse and were left as they are");
            return 1;
        }
        if (check && unformatted > 0) {
            out.println(unformatted + " of " + files.size() + " file(s) need `keyguard fmt`");
            return 1;
        }
        if (check) out.println(files.size() + " file(s) formatted");
        return 0;
    }
}
