package keyguard.proxy;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.List;
import java.util.Map;

/**
 * A validated inference request. {@code body} is the caller's JSON (forwarded with only the
 * model name changed, so nothing the caller sent is lost); {@code texts} are the text parts
 * of every message (or embedding input) in order, for token counting; {@code lastUserText}
 * is what the simulator echoes.
 *
 * @param maxTokens the output cap the caller asked for, or -1 when absent
 */
public record ParsedRequest(Endpoint endpoint, String model, boolean stream, boolean includeUsage, long maxTokens,
                            List<String> texts, String lastUserText, Map<String, String> metadata, ObjectNode body) {}
