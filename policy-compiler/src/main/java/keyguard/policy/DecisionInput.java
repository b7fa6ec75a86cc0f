package keyguard.policy;

import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.Map;

/**
 * Everything a decision reads: the request, the key, the clock and the counters. Mutable
 * and reusable, so the gateway can keep one per thread and decide without allocating.
 * Strings are never null ({@code ""} when absent); maps are never null.
 *
 * <p>Time fields are computed in the policy's zone; the last zone's local time is cached.
 */
public final class DecisionInput {
    private String model = "";
    private long estimatedTokens;
    private long maxTokens;
    private boolean stream;
    private DataClass classification = DataClass.PUBLIC;
    private boolean unscannable;
    private Map<String, String> requestTags = Map.of();
    private Map<String, String> metadata = Map.of();
    private String keyId = "";
    private String keyName = "";
    private String keyOwner = "";
    private String endUser = "";
    private Map<String, String> labels = Map.of();
    private long epochMillis;
    private UsageView usage = UsageView.NONE;

    private java.util.List<FunctionError> functionErrors;

    private ZoneId cachedZone;
    private long cachedMillis = Long.MIN_VALUE;
    private long cachedLocalSeconds;

    public DecisionInput model(String v) { model = v == null ? "" : v; return this; }
    public DecisionInput estimatedTokens(long v) { estimatedTokens = v; return this; }
    public DecisionInput maxTokens(long v) { maxTokens = v; return this; }
    public DecisionInput stream(boolean v) { stream = v; return this; }
    public DecisionInput classification(DataClass v) { classification = v == null ? DataClass.PUBLIC : v; return this; }
    /** The request carries content the gateway cannot scan (an image, a PDF, audio, a file). */
    public DecisionInput unscannable(boolean v) { unscannable = v; return this; }
    public DecisionInput requestTags(Map<String, String> v) { requestTags = v == null ? Map.of() : v; return this; }
    public DecisionInput metadata(Map<String, String> v) { metadata = v == null ? Map.of() : v; return this; }
    public DecisionInput keyId(String v) { keyId = v == null ? "" : v; return this; }
    public DecisionInput keyName(String v) { keyName = v == null ? "" : v; return this; }
    public DecisionInput keyOwner(String v) { keyOwner = v == null ? "" : v; return this; }
    /** The end user the request is made for ({@link EndUsers}), empty for none. */
    public DecisionInput endUser(String v) { endUser = v == null ? "" : v; return this; }
    public DecisionInput labels(Map<String, String> v) { labels = v == null ? Map.of() : v; return this; }
    public DecisionInput at(Instant v) { epochMillis = v.toEpochMilli(); return this; }
    public DecisionInput epochMillis(long v) { epochMillis = v; return this; }
    public DecisionInput usage(UsageView v) { usage = v == null ? UsageView.NONE : v; return this; }

    public String model() { return model; }
    public long estimatedTokens() { return estimatedTokens; }
    public long maxTokens() { return maxTokens; }
    public boolean stream() { return stream; }
    public DataClass classification() { return classification; }
    public int classificationOrdinal() { return classification.ordinal(); }
    public boolean unscannable() { return unscannable; }

    /**
     * The class the data check compares with the ceiling: what the scan found, or
     * {@code restricted} (the highest) when the request carries unscannable content the
     * policy does not allow ({@code on unscannable deny}, the default).
     */
    public int dataClassOrdinal(boolean allowUnscannable) {
        return unscannable && !allowUnscannable ? DataClass.RESTRICTED.ordinal() : classification.ordinal();
    }
    public Map<String, String> requestTags() { return requestTags; }
    public Map<String, String> metadata() { return metadata; }
    public String keyId() { return keyId; }
    public String keyName() { return keyName; }
    public String keyOwner() { return keyOwner; }
    public String endUser() { return endUser; }
    public Map<String, String> labels() { return labels; }
    public long epochMillis() { return epochMillis; }
    public UsageView usage() { return usage; }

    /** Functions that failed while deciding, one per rule; empty almost always. */
    public java.util.List<FunctionError> functionErrors() {
        return functionErrors == null ? java.util.List.of() : functionErrors;
    }

    /** The failure noted for {@code ruleId}, or null. */
    public FunctionError functionError(String ruleId) {
        if (functionErrors != null) for (FunctionError e : functionErrors) if (e.rule().equals(ruleId)) return e;
        return null;
    }

    /** Called by both backends when a rule's function fails; the first failure per rule is kept. */
    public void noteFunctionError(FunctionError e) {
        if (functionError(e.rule()) != null) return;
        if (functionErrors == null) functionErrors = new java.util.ArrayList<>(2);
        functionErrors.add(e);
    }

    /** Tokens a request reserves against token limits: the prompt plus the output cap. */
    public long tokensNeeded() {
        long sum = estimatedTokens + maxTokens;
        return sum < 0 ? Long.MAX_VALUE : sum;
    }

    public int hour(ZoneId zone) { return (int) (Math.floorMod(localSeconds(zone), 86_400L) / 3_600); }

    public int minute(ZoneId zone) { return (int) (Math.floorMod(localSeconds(zone), 3_600L) / 60); }

    /** ISO day of week: Monday 1 … Sunday 7. */
    public int weekday(ZoneId zone) {
        long days = Math.floorDiv(localSeconds(zone), 86_400L);
        return (int) (Math.floorMod(days + 3, 7L) + 1); // 1970-01-01 was a Thursday
    }

    /** The local date as {@code 2026-06-06}. */
    public String date(ZoneId zone) {
        return LocalDate.ofEpochDay(Math.floorDiv(localSeconds(zone), 86_400L)).toString();
    }

    private long localSeconds(ZoneId zone) {
        if (zone != cachedZone || epochMillis != cachedMillis) {
            long seconds = Math.floorDiv(epochMillis, 1000L);
            int offset = zone == ZoneOffset.UTC ? 0 : zone.getRules().getOffset(Instant.ofEpochSecond(seconds)).getTotalSeconds();
            cachedLocalSeconds = seconds + offset;
            cachedZone = zone;
            cachedMillis = epochMillis;
        }
        return cachedLocalSeconds;
    }
}
