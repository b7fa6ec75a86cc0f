package keyguard.policy;

import java.util.List;

/**
 * Request parameters that change what a provider bills beyond the tokens: a policy's
 * {@code allow params [...]} names them. A parameter the routed model prices
 * ({@code service_tier_<tier>}, {@code price web_search}) passes without it; any other is
 * refused unless the policy allows it, and then its extra cost is not counted.
 */
public final class PricedParams {
    /** OpenAI and Anthropic {@code service_tier} other than the default tier. */
    public static final String SERVICE_TIER = "service_tier";
    /** OpenAI {@code store: true}: the completion is kept (and may be billed) by the provider. */
    public static final String STORE = "store";
    /** Anthropic's {@code web_search_*} server tool, OpenAI's {@code web_search_options}. */
    public static final String WEB_SEARCH = "web_search";
    /** Anthropic's {@code web_fetch_*} server tool. */
    public static final String WEB_FETCH = "web_fetch";
    /** Anthropic's {@code code_execution_*} server tool (billed per container hour). */
    public static final String CODE_EXECUTION = "code_execution";
    /** Any other server-side tool type the gateway does not know the price of. */
    public static final String SERVER_TOOLS = "server_tools";
    /** Anthropic's {@code mcp_servers}: remote tools the provider calls. */
    public static final String MCP_SERVERS = "mcp_servers";
    /** OpenAI audio output ({@code modalities} with {@code audio}, or {@code audio}): audio tokens cost more. */
    public static final String AUDIO = "audio";
    /** OpenAI predicted outputs: rejected prediction tokens are billed as output beyond {@code max_tokens}. */
    public static final String PREDICTION = "prediction";

    public static final List<String> ALL = List.of(SERVICE_TIER, STORE, WEB_SEARCH, WEB_FETCH, CODE_EXECUTION, SERVER_TOOLS,
            MCP_SERVERS, AUDIO, PREDICTION);

    private PricedParams() {}

    /** Whether {@code model} has a price for {@code param}, so that it can be counted ({@code service_tier}: for some tier). */
    public static boolean priced(String param, ModelInfo model) {
        return switch (param) {
            case SERVICE_TIER -> !model.pricing().tierPermille().isEmpty();
            case WEB_SEARCH -> model.pricing().webSearch() > 0;
            default -> false;
        };
    }
}
