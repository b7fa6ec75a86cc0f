package keyguard.cli;

import java.util.ArrayList;
import java.util.List;
import keyguard.compiler.Trust;
import picocli.CommandLine.Option;

/**
 * What the policy repository is trusted with ({@link Trust}), the same for {@code serve},
 * {@code check}, {@code test} and {@code explain}, so that CI checks what the gateway enforces.
 */
final class TrustOptions {
    @Option(names = "--operator-dir", paramLabel = "DIR",
            description = "the folder of the policy directory that only the operator may change: providers, models, detectors, labels (default: platform)")
    String operatorDir = Trust.DEFAULT.operatorDir();

    @Option(names = "--credential-env", paramLabel = "PATTERN",
            description = "environment variables a provider credential may name: PREFIX*, *SUFFIX or a name (repeatable; default: KEYGUARD_PROVIDER_* and *_API_KEY)")
    List<String> credentialEnv = new ArrayList<>();

    @Option(names = "--allow-base-url", paramLabel = "URL", description = "a URL prefix providers may point at (repeatable; default: any)")
    List<String> baseUrls = new ArrayList<>();

    Trust trust() {
        Trust t = Trust.DEFAULT.withOperatorDir(operatorDir);
        if (!credentialEnv.isEmpty()) t = t.withCredentialEnv(credentialEnv);
        if (!baseUrls.isEmpty()) t = t.withBaseUrls(baseUrls);
        return t;
    }
}
