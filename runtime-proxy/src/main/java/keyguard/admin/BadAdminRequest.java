package keyguard.admin;

/** An admin request answered with an error: its status and a message safe to show. */
final class BadAdminRequest extends Exception {
    final int status;

    BadAdminRequest(int status, String message) {
        super(message, null, false, false);
        this.status = status;
    }
}
