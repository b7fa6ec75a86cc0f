package keyguard.providers;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

class SseSplitterTest {
    @Test
    void dataJoinsDataLinesAndIgnoresTheRest() {
        assertEquals("{\"a\":1}", SseSplitter.data("data: {\"a\":1}\n\n"));
        assertEquals("x\ny", SseSplitter.data("event: e\r\ndata: x\r\ndata:y\r\n\r\n"));
        assertEquals("", SseSplitter.data("event: ping\n\n"));
        assertEquals("[DONE]", SseSplitter.data("data: [DONE]"));
        assertEquals("a\nb", SseSplitter.data("data: a\nid: 1\ndata: b\n\n"), "data lines apart are joined too");
        assertEquals("", SseSplitter.data("data:\n\n"));
    }

    @Test
    void eventsAreCutAtBlankLinesAcrossChunksAndMultiByteCharacters() {
        SseSplitter s = new SseSplitter();
        byte[] all = "data: caf\u00e9\n\ndata: two\n\n".getBytes(StandardCharsets.UTF_8);
        List<String> first = s.feed(List.of(ByteBuffer.wrap(all, 0, 10)));
        assertEquals(List.of(), first);
        List<String> rest = s.feed(List.of(ByteBuffer.wrap(all, 10, all.length - 10)));
        assertEquals(List.of("data: caf\u00e9\n\n", "data: two\n\n"), rest);
    }

    @Test
    void aBlankLineSplitAcrossFeedsEndsItsEventAndEachByteIsLookedAtFromWhereTheLastFeedStopped() {
        SseSplitter s = new SseSplitter();
        assertEquals(List.of(), s.feed(List.of(ByteBuffer.wrap("data: a\r\n\r".getBytes(StandardCharsets.UTF_8)))));
        assertEquals(List.of("data: a\r\n\r\n"), s.feed(List.of(ByteBuffer.wrap("\n".getBytes(StandardCharsets.UTF_8)))));
        assertEquals(List.of(), s.feed(List.of(ByteBuffer.wrap("data: b\n".getBytes(StandardCharsets.UTF_8)))));
        assertEquals(List.of("data: b\n\n", "data: c\n\n"), s.feed(List.of(ByteBuffer.wrap("\ndata: c\n\nda".getBytes(StandardCharsets.UTF_8)))));
        assertEquals("da", s.rest());
    }

    @Test
    void anEventThatNeverEndsIsCutAtTheCapInsteadOfBufferedWithoutEnd() {
        SseSplitter s = new SseSplitter();
        byte[] piece = new byte[64 * 1024];
        java.util.Arrays.fill(piece, (byte) 'x');
        org.junit.jupiter.api.Assertions.assertThrows(SseSplitter.EventTooLarge.class, () -> {
            for (int i = 0; i < SseSplitter.MAX_EVENT / piece.length + 2; i++) s.feed(List.of(ByteBuffer.wrap(piece)));
        });
    }
}
