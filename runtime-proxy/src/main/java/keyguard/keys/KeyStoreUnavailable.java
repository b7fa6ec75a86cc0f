package keyguard.keys;

/** The shared key store (the fleet's Redis) cannot be reached: the change was not made. */
public final class KeyStoreUnavailable extends RuntimeException {
    public KeyStoreUnavailable(String message, Throwable cause) {
        super(message, cause);
    }
}
