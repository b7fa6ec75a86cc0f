package keyguard.gateway;

import java.nio.file.Path;
import java.time.Clock;
import java.util.function.Function;

/**
 * How to start a gateway. {@code env} supplies provider credentials and
 * {@code KEYGUARD_ADMIN_TOKEN} (tests pass a map instead of the process environment).
 */
public record GatewayConfig(Path policies, Path data, String host, int port, int adminPort, String adminHost, long maxBodyBytes,
                            Function<String, String> env, Clock clock) {

    public static final long DEFAULT_MAX_BODY = 10L << 20;

    public static GatewayConfig defaults(Path policies, Path data) {
        return new GatewayConfig(policies, data, "127.0.0.1", 8080, 8081, "127.0.0.1", DEFAULT_MAX_BODY, System::getenv, Clock.systemUTC());
    }
}
