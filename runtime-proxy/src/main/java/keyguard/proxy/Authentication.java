package keyguard.proxy;

import keyguard.keys.KeyRecord;
import keyguard.wire.GatewayError;

/** What authenticating a request found: the caller's key, or the refusal to answer it with. */
public sealed interface Authentication permits Authentication.Key, Authentication.Refusal {

    /** A valid, active key. */
    record Key(KeyRecord record) implements Authentication {}

    /** No key, a wrong or revoked one (401), or keys that cannot be trusted right now (503). */
    record Refusal(GatewayError error) implements Authentication {}
}
