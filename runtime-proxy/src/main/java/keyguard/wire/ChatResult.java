package keyguard.wire;

/** A finished reply in neutral terms; {@code finishReason} is {@code stop} or {@code length}. */
public record ChatResult(String id, String model, long created, String text, String finishReason, long promptTokens,
                         long completionTokens) {}
