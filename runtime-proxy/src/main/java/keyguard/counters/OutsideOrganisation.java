package keyguard.counters;

/**
 * A key whose policy counts {@code by team} or {@code by org} has no team (or its team no
 * org unit) in the operator's organisation: its requests cannot be counted, so they are
 * refused. {@link #reason} says why, of the key: "belongs to no team, and policy `p` counts
 * `spend.team.month` by team".
 */
public final class OutsideOrganisation extends RuntimeException {
    private final String reason;

    public OutsideOrganisation(String keyId, String reason) {
        super("key `" + keyId + "` " + reason, null, false, false);
        this.reason = reason;
    }

    public String reason() { return reason; }
}
