package keyguard.proxy;

import static org.junit.jupiter.api.Assertions.assertEquals;

import keyguard.wire.Endpoint;
import org.junit.jupiter.api.Test;

/** The request path is a chain of one small handler per stage, printable like Undertow's. */
class RequestChainTest {
    @Test
    void theChainPrintsItsStagesInOrder() {
        InferenceHandler.Path path = new InferenceHandler.Path(Endpoint.CHAT_COMPLETIONS, null, null, 1024, null, null,
                CallerTimeouts.NONE);
        InferenceHandler.Forward forward = new InferenceHandler.Forward(path);
        var chain = new InferenceHandler.RequirePost(path, new InferenceHandler.Authenticate(path, new InferenceHandler.ReadBody(path,
                new InferenceHandler.Parse(path, new InferenceHandler.Classify(path, new InferenceHandler.Decide(path,
                        new InferenceHandler.Admit(path, forward)))))));
        assertEquals("method POST -> authenticate -> read body -> parse -> classify -> decide -> admit -> forward", chain.toString());
    }
}
