package keyguard.fleet;

/** The fleet's background threads (key follower, counter syncer, heartbeat, spend feeder) stop the same way. */
final class Background {
    private Background() {}

    /** Interrupts {@code thread} and waits up to {@code millis} for it to end; keeps the caller's own interrupt. */
    static void stop(Thread thread, long millis) {
        thread.interrupt();
        try {
            thread.join(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
