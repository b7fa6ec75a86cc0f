package keyguard.providers;

/**
 * Answers allowed requests for the models routed to it. {@link #handle} returns at once;
 * the answer is written to the call's client stream asynchronously and the call's
 * listener hears how it ended. Implementations: {@link SimulatorProvider},
 * {@link OpenAiProvider}, {@link AnthropicProvider}.
 */
public interface Provider {
    void handle(Call call);
}
