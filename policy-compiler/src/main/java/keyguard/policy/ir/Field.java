package keyguard.policy.ir;

/** The fields a condition can read, by path. */
public enum Field {
    REQUEST_MODEL("request.model", Type.STRING),
    REQUEST_ESTIMATED_TOKENS("request.estimated_tokens", Type.INT),
    REQUEST_MAX_TOKENS("request.max_tokens", Type.INT),
    REQUEST_STREAM("request.stream", Type.BOOL),
    REQUEST_CLASSIFICATION("request.classification", Type.CLASS),
    REQUEST_UNSCANNABLE("request.unscannable", Type.BOOL),
    REQUEST_TAGS("request.tags", Type.MAP),
    REQUEST_METADATA("request.metadata", Type.MAP),
    KEY_ID("key.id", Type.STRING),
    KEY_NAME("key.name", Type.STRING),
    KEY_OWNER("key.owner", Type.STRING),
    KEY_LABELS("key.labels", Type.MAP),
    MODEL_ID("model.id", Type.STRING),
    MODEL_PROVIDER("model.provider", Type.STRING),
    MODEL_HOSTING("model.hosting", Type.STRING),
    MODEL_MAX_CLASS("model.max_class", Type.CLASS),
    MODEL_CONTEXT("model.context", Type.INT),
    TIME_HOUR("time.hour", Type.INT),
    TIME_MINUTE("time.minute", Type.INT),
    TIME_WEEKDAY("time.weekday", Type.WEEKDAY),
    TIME_DATE("time.date", Type.STRING);

    private final String path;
    private final Type type;

    Field(String path, Type type) {
        this.path = path;
        this.type = type;
    }

    public String path() { return path; }

    public Type type() { return type; }

    public String root() { return path.substring(0, path.indexOf('.')); }

    public String leaf() { return path.substring(path.indexOf('.') + 1); }

    public static Field byPath(String path) {
        for (Field f : values()) if (f.path.equals(path)) return f;
        return null;
    }
}
