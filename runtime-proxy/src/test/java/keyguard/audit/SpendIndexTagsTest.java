package keyguard.audit;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;

/** {@code group_by=tag:NAME} reads one tag of a cell's tag set exactly, whatever its value holds. */
class SpendIndexTagsTest {
    @Test
    void aTagValueHoldingTheSeparatorsIsOneTag() throws Exception {
        SpendIndex.Cell c = SpendIndex.Cell.of(new ObjectMapper().readTree("""
                {"type":"decision","time":"2026-12-03T08:00:00Z","key_id":"k","policy":"p","routed_model":"m",
                 "tags":{"team":"a,project=x","pct":"50%2C","project":"alpha"}}"""));
        assertEquals("a,project=x", c.value("tag:team"), c.tags());
        assertEquals("alpha", c.value("tag:project"), "not the `project=x` inside team's value: " + c.tags());
        assertEquals("50%2C", c.value("tag:pct"), "a value that already looks escaped comes back as it was");
        assertEquals("", c.value("tag:none"));
        assertEquals("team=a%2Cproject%3Dx,pct=50%252C,project=alpha", c.value("tag"), "the whole set, escaped");
    }
}
