package keyguard.wire;

/** The caller sent something the gateway will not forward: always a 4xx with this message. */
public final class BadRequest extends Exception {
    private final int status;
    private final String param;

    public BadRequest(int status, String message, String param) {
        super(message, null, false, false);
        this.status = status;
        this.param = param;
    }

    public BadRequest(String message, String param) {
        this(400, message, param);
    }

    public int status() { return status; }

    public String param() { return param; }
}
