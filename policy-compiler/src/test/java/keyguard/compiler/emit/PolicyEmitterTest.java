package keyguard.compiler.emit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.classfile.ClassFile;
import java.lang.classfile.ClassModel;
import java.lang.classfile.attribute.SourceFileAttribute;
import java.lang.ref.WeakReference;
import java.time.Instant;
import java.util.Arrays;
import keyguard.compiler.Snippets;
import keyguard.policy.DecisionInput;
import keyguard.policy.PolicyEvaluator;
import keyguard.policy.PolicySet;
import org.junit.jupiter.api.Test;

class PolicyEmitterTest {
    private static final String SRC = """
            policy p {
              models allow ["small"]
              @id("busy")
              forbid when { usage.requests.key.1m > 5 }
            }
            """;

    @Test
    void aStackTraceThroughACompiledRuleNamesTheKgpFileAndLine() {
        PolicySet set = Snippets.compile(SRC);
        PolicyEvaluator e = PolicyEmitter.compile(set, set.policy("p"));
        DecisionInput in = new DecisionInput().model("small").at(Instant.EPOCH).usage(ref -> {
            throw new IllegalStateException("counter store down");
        });
        IllegalStateException ex = assertThrows(IllegalStateException.class, () -> e.decide(in));
        StackTraceElement frame = Arrays.stream(ex.getStackTrace())
                .filter(f -> f.getClassName().contains("Policy_p")).findFirst().orElseThrow();
        assertEquals("input.kgp", frame.getFileName());
        assertEquals(4, frame.getLineNumber(), "the line of the forbid rule");
        assertTrue(frame.getMethodName().contains("busy"), frame.getMethodName());
    }

    @Test
    void theClassFileCarriesItsSourceFile() {
        PolicySet set = Snippets.compile(SRC);
        ClassModel model = ClassFile.of().parse(PolicyEmitter.bytes(set, set.policy("p")));
        assertEquals("input.kgp", model.findAttribute(java.lang.classfile.Attributes.sourceFile()).map(SourceFileAttribute::sourceFile)
                .orElseThrow().stringValue());
    }

    @Test
    void compiledClassesAreUnloadedOnceNothingReferencesThem() throws InterruptedException {
        PolicySet set = Snippets.compile(SRC);
        WeakReference<Class<?>> ref = new WeakReference<>(PolicyEmitter.compile(set, set.policy("p")).getClass());
        for (int i = 0; i < 50 && ref.get() != null; i++) {
            System.gc();
            Thread.sleep(20);
        }
        assertEquals(null, ref.get(), "the hidden class of a dropped policy set must be collectable");
    }
}
