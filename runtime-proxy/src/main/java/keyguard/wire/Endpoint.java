package keyguard.wire;

/** The inference endpoints, each in the shape (OpenAI or Anthropic) of its route family. */
public enum Endpoint {
    CHAT_COMPLETIONS("/v1/chat/completions", ApiShape.OPENAI),
    EMBEDDINGS("/v1/embeddings", ApiShape.OPENAI),
    MESSAGES("/v1/messages", ApiShape.ANTHROPIC);

    private final String path;
    private final ApiShape shape;

    Endpoint(String path, ApiShape shape) {
        this.path = path;
        this.shape = shape;
    }

    public String path() { return path; }

    public ApiShape shape() { return shape; }
}
