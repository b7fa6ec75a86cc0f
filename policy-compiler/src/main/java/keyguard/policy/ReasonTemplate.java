package keyguard.policy;

import java.time.ZoneId;
import java.util.List;
import keyguard.policy.ir.Ir;
import keyguard.policy.ir.IrInterpreter;

/** A {@code @reason} text with {@code {path}} holes, each a typed expression. */
public record ReasonTemplate(List<Object> parts) {

    public static final ReasonTemplate EMPTY = new ReasonTemplate(List.of());

    public boolean isEmpty() { return parts.isEmpty(); }

    public String render(DecisionInput input, ModelInfo model, ZoneId zone) {
        StringBuilder sb = new StringBuilder();
        for (Object part : parts) {
            if (part instanceof Ir ir) {
                try {
                    sb.append(IrInterpreter.display(ir, IrInterpreter.eval(ir, input, model, zone)));
                } catch (keyguard.functions.FunctionFailure f) {
                    sb.append('?');
                }
            }
            else sb.append(part);
        }
        return sb.toString();
    }
}
