package keyguard.providers;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/**
 * Reading a streamed event ({@link Dialect#observe}): the parser skips the fields it does not
 * read, and what it reads is what a whole tree of the event would give — whatever the order
 * of the fields, their duplicates, the fields it skips or where the JSON breaks.
 */
class DialectTest {
    static String event(String json) {
        return "data: " + json + "\n\n";
    }

    @Test
    void aContentChunksDeltaAndIdAreReadWhateverTheFieldOrderAndTheFieldsSkipped() {
        StreamState st = new StreamState();
        String delta = Dialect.OPENAI.observe(event("{\"object\":\"chat.completion.chunk\",\"created\":1,\"choices\":[{\"delta\":{\"content\":\"Hel\"},"
                + "\"logprobs\":{\"content\":[{\"token\":\"x\",\"bytes\":[1,2]}]},\"index\":0,\"finish_reason\":null}],\"model\":\"m\","
                + "\"system_fingerprint\":{\"nested\":[{\"deep\":[1,{\"x\":\"y\"}]}]},\"id\":\"chatcmpl-1\"}"), st);
        assertEquals("Hel", delta);
        assertEquals("chatcmpl-1", st.id);
        assertEquals("Hel", st.text.toString());
        Dialect.OPENAI.observe(event("{\"id\":\"other\",\"choices\":[{\"index\":1,\"delta\":{\"content\":\"second choice\"}},"
                + "{\"index\":0,\"delta\":{\"content\":\"lo\",\"refusal\":\"no\",\"reasoning_content\":\"think\"},\"finish_reason\":\"length\"}]}"), st);
        assertEquals("chatcmpl-1", st.id, "the first id stays");
        assertEquals("Hello", st.text.toString(), "only the first choice is the reply's text");
        assertEquals("length", st.finish);
        // Parts c0 "Hello", c1 "second choice", f0 "no", r0 "think": each joined, then counted (1 + 2 + 1 + 1 tokens).
        assertEquals(5, st.countGenerated(keyguard.tokens.TokenCounter.CL100K));
    }

    @Test
    void usageIsReadInBillingTermsWhereverItStands() {
        StreamState st = new StreamState();
        Dialect.OPENAI.observe(event("{\"usage\":{\"completion_tokens\":46,\"prompt_tokens\":1117,\"prompt_tokens_details\":{\"cached_tokens\":1024},"
                + "\"completion_tokens_details\":{\"reasoning_tokens\":6}},\"choices\":[],\"service_tier\":\"default\",\"model\":\"m\"}"), st);
        assertTrue(st.usageFinal);
        assertEquals(93, st.input);
        assertEquals(1024, st.cacheRead);
        assertEquals(40, st.output);
        assertEquals(6, st.reasoning);
        assertEquals("default", st.serviceTier);
        StreamState empty = new StreamState();
        Dialect.OPENAI.observe(event("{\"usage\":{},\"choices\":[]}"), empty);
        assertEquals(false, empty.usageFinal, "a usage object without counts is no report");
    }

    @Test
    void aDuplicateFieldCountsAsItsLastValueAsInATree() {
        StreamState st = new StreamState();
        String delta = Dialect.OPENAI.observe(event("{\"choices\":[{\"index\":0,\"delta\":{\"content\":\"dropped\"}}],"
                + "\"choices\":[{\"index\":0,\"delta\":{\"content\":\"kept\"}}]}"), st);
        assertEquals("kept", delta);
        assertEquals("kept", st.text.toString());
    }

    @Test
    void anErrorAnywhereInTheEventIsTheStreamsErrorAndNothingElseOfItCounts() {
        StreamState st = new StreamState();
        assertNull(Dialect.OPENAI.observe(event("{\"id\":\"x\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"partial\"}}],"
                + "\"error\":{\"message\":\"overloaded\"}}"), st));
        assertEquals("overloaded", st.error);
        assertEquals("", st.text.toString());
        assertEquals("", st.id);
    }

    @Test
    void malformedJsonEvenInASkippedFieldCountsNothing() {
        StreamState st = new StreamState();
        assertNull(Dialect.OPENAI.observe(event("{\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"}}],\"model\":[1,2"), st));
        assertNull(Dialect.OPENAI.observe(event("{\"model\":{\"a\":tru},\"choices\":[{\"index\":0,\"delta\":{\"content\":\"b\"}}]}"), st));
        assertNull(Dialect.OPENAI.observe(event("[\"not\",\"an\",\"object\"]"), st));
        assertNull(Dialect.OPENAI.observe(event("\"text\""), st));
        assertEquals("", st.text.toString());
        assertEquals(0, st.countGenerated(keyguard.tokens.TokenCounter.CL100K));
    }

    @Test
    void anthropicEventsAreReadWithTheirUnreadFieldsSkipped() {
        StreamState st = new StreamState();
        Dialect.ANTHROPIC.observe(event("{\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"model\":\"claude\",\"content\":[],"
                + "\"usage\":{\"input_tokens\":25,\"output_tokens\":1}}}"), st);
        assertEquals("msg_1", st.id);
        assertEquals(25, st.input);
        assertEquals("Hi", Dialect.ANTHROPIC.observe(event("{\"index\":0,\"extra\":{\"x\":[1]},\"delta\":{\"type\":\"text_delta\",\"text\":\"Hi\"},"
                + "\"type\":\"content_block_delta\"}"), st));
        Dialect.ANTHROPIC.observe(event("{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"max_tokens\"},\"usage\":{\"output_tokens\":15}}"), st);
        assertEquals("length", st.finish);
        assertEquals(15, st.output);
        assertTrue(st.usageFinal);
    }

    @Test
    void aWholeReplyIsReadFromItsBytesWithTheFieldsItDoesNotReadSkipped() throws Exception {
        byte[] reply = ("{\"usage\":{\"prompt_tokens\":20,\"completion_tokens\":7},\"model\":{\"odd\":[1,2,{\"x\":null}]},"
                + "\"choices\":[{\"message\":{\"role\":\"assistant\",\"content\":\"Héllo there\"},\"index\":0,\"finish_reason\":\"length\"}],"
                + "\"id\":\"chatcmpl-9\",\"object\":\"chat.completion\"}").getBytes(java.nio.charset.StandardCharsets.UTF_8);
        StreamState st = Dialect.OPENAI.read(reply);
        assertEquals("chatcmpl-9", st.id);
        assertEquals("Héllo there", st.text.toString());
        assertEquals("length", st.finish);
        assertEquals(20, st.input);
        assertEquals(7, st.output);
        assertTrue(st.usageFinal);

        // A reply cut mid-character still has its usage read, as when it was decoded with replacements first.
        java.io.ByteArrayOutputStream cut = new java.io.ByteArrayOutputStream();
        cut.writeBytes("{\"choices\":[{\"index\":0,\"message\":{\"content\":\"caf".getBytes(java.nio.charset.StandardCharsets.US_ASCII));
        cut.write(0xC3); // a lone lead byte: the character was cut
        cut.writeBytes("\"}}],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":2}}".getBytes(java.nio.charset.StandardCharsets.US_ASCII));
        assertEquals(2, Dialect.OPENAI.read(cut.toByteArray()).output);
        // Bytes UTF-8 does not allow are read as the decoder replaces them (an overlong form is no "A"), and a body in
        // another encoding is no JSON: as a reply was always read, whatever a looser byte parser would make of them.
        java.io.ByteArrayOutputStream overlong = new java.io.ByteArrayOutputStream();
        overlong.writeBytes("{\"choices\":[{\"index\":0,\"message\":{\"content\":\"A".getBytes(java.nio.charset.StandardCharsets.US_ASCII));
        overlong.write(0xC1);
        overlong.write(0x81);
        overlong.writeBytes("\"}}]}".getBytes(java.nio.charset.StandardCharsets.US_ASCII));
        assertEquals("A\uFFFD\uFFFD", Dialect.OPENAI.read(overlong.toByteArray()).text.toString());
        assertThrows(java.io.IOException.class, () -> Dialect.OPENAI.read("{\"id\":\"x\"}".getBytes(java.nio.charset.StandardCharsets.UTF_16LE)));

        StreamState anthropic = Dialect.ANTHROPIC.read(("{\"stop_reason\":\"max_tokens\",\"type\":\"message\",\"content\":[{\"type\":\"text\",\"text\":\"Hi\"}],"
                + "\"id\":\"msg_2\",\"usage\":{\"input_tokens\":9,\"output_tokens\":4}}").getBytes(java.nio.charset.StandardCharsets.UTF_8));
        assertEquals("msg_2", anthropic.id);
        assertEquals("Hi", anthropic.text.toString());
        assertEquals("length", anthropic.finish);
        assertEquals(4, anthropic.output);
        assertThrows(java.io.IOException.class, () -> Dialect.OPENAI.read("{\"id\":\"x\",\"model\":[".getBytes(java.nio.charset.StandardCharsets.UTF_8)));
    }

    @Test
    void aRelayedWholeReplyIsBilledFromItsUsageAloneExactlyAsAFullReadingBillsIt() throws Exception {
        String[] openai = {
            // final usage, with the details that split it, and a tier
            "{\"id\":\"c1\",\"choices\":[{\"index\":0,\"message\":{\"content\":\"Hello there\"},\"finish_reason\":\"stop\"}],"
                + "\"usage\":{\"prompt_tokens\":20,\"completion_tokens\":9,\"prompt_tokens_details\":{\"cached_tokens\":5},"
                + "\"completion_tokens_details\":{\"reasoning_tokens\":4}},\"service_tier\":\"flex\"}",
            // the usage before the choices, and given twice: the last one counts
            "{\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":1},\"choices\":[{\"message\":{\"content\":\"x\"}}],"
                + "\"usage\":{\"prompt_tokens\":7,\"completion_tokens\":3}}",
            // no usage: what was generated is counted, tool calls and refusals included
            "{\"choices\":[{\"index\":0,\"message\":{\"content\":\"Counted by the gateway\",\"refusal\":\"no\","
                + "\"tool_calls\":[{\"index\":0,\"function\":{\"name\":\"f\",\"arguments\":\"{\\\"a\\\":1}\"}}]}},"
                + "{\"index\":1,\"message\":{\"content\":\"and the second choice\"}}]}",
            // a usage without the counts (some compatible servers send {}): no report, counted
            "{\"choices\":[{\"message\":{\"content\":\"four words counted here\"}}],\"usage\":{}}",
            // counts of the wrong type: no report either
            "{\"choices\":[{\"message\":{\"content\":\"typed wrong\"}}],\"usage\":{\"prompt_tokens\":2,\"completion_tokens\":\"many\"}}",
            "{\"choices\":[],\"usage\":null}",
        };
        String[] anthropic = {
            "{\"id\":\"m1\",\"content\":[{\"type\":\"text\",\"text\":\"Hi\"}],\"stop_reason\":\"end_turn\","
                + "\"usage\":{\"input_tokens\":9,\"output_tokens\":4,\"cache_creation_input_tokens\":6,\"cache_read_input_tokens\":2,"
                + "\"cache_creation\":{\"ephemeral_1h_input_tokens\":1},\"server_tool_use\":{\"web_search_requests\":2},\"service_tier\":\"standard\"}}",
            // no output count: what was generated is counted
            "{\"content\":[{\"type\":\"text\",\"text\":\"Some text\"},{\"type\":\"tool_use\",\"name\":\"t\",\"input\":{\"q\":\"x\"}}],"
                + "\"usage\":{\"input_tokens\":3}}",
            "{\"content\":[{\"type\":\"thinking\",\"thinking\":\"hmm\"}]}",
        };
        for (String reply : openai) assertBilledAlike(Dialect.OPENAI, reply);
        for (String reply : anthropic) assertBilledAlike(Dialect.ANTHROPIC, reply);
        // Where the usage is final, the choices were passed over, not made into a tree.
        assertEquals("", Dialect.OPENAI.readUsage(openai[0].getBytes(java.nio.charset.StandardCharsets.UTF_8)).text.toString());
        assertEquals("", Dialect.ANTHROPIC.readUsage(anthropic[0].getBytes(java.nio.charset.StandardCharsets.UTF_8)).text.toString());
        // JSON broken anywhere, even inside the choices it does not keep, is no reading, as before.
        byte[] broken = "{\"choices\":[{\"message\":{\"content\":\"x\"}}}],\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":1}}"
                .getBytes(java.nio.charset.StandardCharsets.UTF_8);
        assertThrows(java.io.IOException.class, () -> Dialect.OPENAI.read(broken));
        assertThrows(java.io.IOException.class, () -> Dialect.OPENAI.readUsage(broken));
    }

    private static void assertBilledAlike(Dialect dialect, String reply) throws Exception {
        byte[] body = reply.getBytes(java.nio.charset.StandardCharsets.UTF_8);
        StreamState whole = dialect.read(body);
        StreamState usage = dialect.readUsage(body);
        keyguard.tokens.TokenCounter counter = keyguard.tokens.TokenCounter.O200K;
        String billed = whole.input + " " + whole.cacheWrite + " " + whole.cacheWrite1h + " " + whole.cacheRead + " " + whole.output + " "
                + whole.reasoning + " " + whole.webSearches + " " + whole.serviceTier + " " + whole.usageFinal + " " + whole.done + " "
                + (whole.usageFinal ? "-" : String.valueOf(whole.countGenerated(counter)));
        assertEquals(billed, usage.input + " " + usage.cacheWrite + " " + usage.cacheWrite1h + " " + usage.cacheRead + " " + usage.output + " "
                + usage.reasoning + " " + usage.webSearches + " " + usage.serviceTier + " " + usage.usageFinal + " " + usage.done + " "
                + (usage.usageFinal ? "-" : String.valueOf(usage.countGenerated(counter))), reply);
    }
}
