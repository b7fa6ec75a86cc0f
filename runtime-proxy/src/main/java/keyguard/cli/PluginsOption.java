package keyguard.cli;

import java.nio.file.Path;
import keyguard.functions.FunctionLibrary;
import picocli.CommandLine.Option;

/** {@code --plugins DIR}, shared by the commands that compile policies. */
final class PluginsOption {
    @Option(names = "--plugins", paramLabel = "DIR",
            description = "a folder of plugin jars whose policy functions conditions may call (see docs/plugins.md)")
    Path dir;

    /** The plugin functions, or none; a bad plugin folder is an {@link IllegalArgumentException} naming the jar. */
    FunctionLibrary library() {
        return dir == null ? FunctionLibrary.NONE : FunctionLibrary.load(dir);
    }
}
