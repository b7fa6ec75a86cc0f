package keyguard.providers;

/** What has been seen of one upstream reply so far: text, finish reason, usage. */
final class StreamState {
    String id = "";
    final StringBuilder text = new StringBuilder();
    String finish = "stop";
    long promptTokens = -1;
    long completionTokens = -1;
    boolean done;
    String error;
}
