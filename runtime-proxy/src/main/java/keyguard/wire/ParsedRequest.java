package keyguard.wire;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.List;
import java.util.Map;

/**
 * A validated inference request. {@code body} is the caller's JSON (forwarded with the
 * model name changed and the output cap the gateway reserved, so nothing else the caller
 * sent is lost); {@code texts} are the text parts
 * of every message (or embedding input) in order, for token counting; {@code lastUserText}
 * is what the simulator echoes.
 *
 * @param maxTokens the output cap the caller asked for (per choice), or -1 when absent
 * @param billables what else in the request changes its bill
 */
public record ParsedRequest(Endpoint endpoint, String model, boolean stream, boolean includeUsage, long maxTokens,
                            List<String> texts, String lastUserText, Map<String, String> metadata, ObjectNode body,
                            Billables billables) {

    /** The same request with another body (an output cap added or lowered), everything else as read. */
    public ParsedRequest withBody(ObjectNode newBody, long newMaxTokens) {
        return new ParsedRequest(endpoint, model, stream, includeUsage, newMaxTokens, texts, lastUserText, metadata, newBody, billables);
    }
}
