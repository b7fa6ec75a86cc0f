package keyguard.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The CLI as a user runs it: exit codes and output. */
class CliTest {
    record Run(int code, String out, String err) {
        String lastLine() {
            List<String> lines = out.lines().toList();
            return lines.isEmpty() ? "" : lines.get(lines.size() - 1);
        }
    }

    static Run run(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int code = Main.run(new PrintWriter(out), new PrintWriter(err), args);
        return new Run(code, out.toString(), err.toString());
    }

    static Path examples() {
        Path p = Path.of("").toAbsolutePath();
        while (!Files.isDirectory(p.resolve("policies"))) p = p.getParent();
        return p.resolve("policies");
    }

    @TempDir
    Path tmp;

    private Path copyOfExamples() throws IOException {
        Path dir = tmp.resolve("policies");
        try (var walk = Files.walk(examples())) {
            for (Path src : walk.toList()) {
                Path dst = dir.resolve(examples().relativize(src).toString());
                if (Files.isDirectory(src)) Files.createDirectories(dst);
                else Files.copy(src, dst);
            }
        }
        return dir;
    }

    @Test
    void checkExitsZeroOnTheExamplesAndReportsCosts() {
        Run r = run("check", examples().toString(), "--cost");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("search") && r.out().contains("cost bound"), r.out());
        assertTrue(r.lastLine().startsWith("ok: 9 files"), r.out());
    }

    @Test
    void checkExitsOneWithRenderedDiagnostics() throws IOException {
        Path dir = copyOfExamples();
        Files.writeString(dir.resolve("broken.kgp"), "policy broken { models allow [\"gpt-4o-minni\"] }\n");
        Run r = run("check", dir.toString());
        assertEquals(1, r.code());
        assertTrue(r.err().contains("error[KG0103]: unknown model `gpt-4o-minni`"), r.err());
        assertTrue(r.err().contains("did you mean `gpt-4o-mini`?"), r.err());
    }

    @Test
    void testPrintsTheCountAsItsLastLineAndWritesJUnitXml() throws IOException {
        Path xml = tmp.resolve("reports/policies.xml");
        Run r = run("test", examples().toString(), "--junit", xml.toString());
        assertEquals(0, r.code(), r.out() + r.err());
        assertTrue(r.lastLine().matches("\\d+ passed, 0 failed"), r.lastLine());
        String report = Files.readString(xml);
        assertTrue(report.contains("<testsuite") && report.contains("failures=\"0\"") && report.contains("gpt-4o from staging on a Saturday is denied"), report);
    }

    @Test
    void aFailingPolicyTestShowsExpectedActualAndTheRulesThatFired() throws IOException {
        Path dir = copyOfExamples();
        Files.writeString(dir.resolve("extra.kgp"), """
                tests demo {
                  test "sim-large sneaks through" {
                    request { model: "sim-large" }
                    expect  allow
                  }
                }
                """);
        Run r = run("test", dir.toString());
        assertEquals(1, r.code());
        assertTrue(r.out().contains("FAIL demo › sim-large sneaks through"), r.out());
        assertTrue(r.out().contains("expected allow, got deny"), r.out());
        assertTrue(r.out().contains("deny by models.allow"), r.out());
        assertTrue(r.lastLine().matches("\\d+ passed, 1 failed"), r.lastLine());
    }

    @Test
    void fmtCheckFailsOnAnUnformattedFileAndFmtFixesIt() throws IOException {
        Path file = tmp.resolve("messy.kgp");
        Files.writeString(file, "policy   p{models allow[\"sim-small\"]}\n");
        Run check = run("fmt", "--check", file.toString());
        assertEquals(1, check.code());
        assertTrue(check.out().contains("not formatted: " + file), check.out());
        assertEquals(0, run("fmt", file.toString()).code());
        assertEquals("policy p {\n  models allow [\"sim-small\"]\n}\n", Files.readString(file));
        assertEquals(0, run("fmt", "--check", file.toString()).code());
    }

    @Test
    void fmtLeavesAFileWithSyntaxErrorsUntouched() throws IOException {
        Path file = tmp.resolve("broken.kgp");
        String text = "policy p { models allow [\"a\" \"b\"] }\n";
        Files.writeString(file, text);
        Run r = run("fmt", file.toString());
        assertEquals(1, r.code());
        assertTrue(r.err().contains("error[KG0004]"), r.err());
        assertEquals(text, Files.readString(file));
    }

    @Test
    void explainShowsTheDecidingRuleTheFirstFalseConditionAndCounters() throws IOException {
        Path req = tmp.resolve("req.json");
        Files.writeString(req, "{\"model\": \"gpt-4o\", \"max_tokens\": 256, \"estimated_tokens\": 900}");
        Run r = run("explain", "--policies", examples().toString(), "--policy", "search", "--request", req.toString(),
                "--label", "env=staging", "--at", "2026-06-06T10:00Z", "--usage", "tokens.policy.1d=4000000");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().startsWith("decision: deny by gpt4o-office-hours"), r.out());
        assertTrue(r.out().contains("unless is false: time.weekday in mon..fri [time.weekday = sat]"), r.out());
        assertTrue(r.out().contains("not matched false: key.env == \"\" [key.env = \"staging\"]"), r.out());
        assertTrue(r.out().contains("4000000 tokens used + 1156 needed <= 5000000"), r.out());
    }

    @Test
    void explainRejectsMalformedJsonWithAClearMessage() throws IOException {
        Path req = tmp.resolve("bad.json");
        Files.writeString(req, "{\"model\": ");
        Run r = run("explain", "--policies", examples().toString(), "--policy", "demo", "--request", req.toString());
        assertEquals(2, r.code());
        assertTrue(r.err().contains("is not valid JSON"), r.err());
    }
}
