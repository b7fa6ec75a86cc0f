package keyguard.counters;

/**
 * A fleet ledger's slice cannot take the request without asking the store: nothing is
 * held; call {@link Enforcer#admitWaiting} on a thread that may wait (a worker, never an IO
 * thread).
 */
public final class NeedsStore implements Admission {
    static final NeedsStore INSTANCE = new NeedsStore();

    private NeedsStore() {}
}
