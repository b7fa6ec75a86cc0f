package keyguard.compiler.emit;

import static java.lang.constant.ConstantDescs.CD_Map;
import static java.lang.constant.ConstantDescs.CD_Object;
import static java.lang.constant.ConstantDescs.CD_String;
import static java.lang.constant.ConstantDescs.CD_boolean;
import static java.lang.constant.ConstantDescs.CD_int;
import static java.lang.constant.ConstantDescs.CD_long;

import java.lang.classfile.ClassFile;
import java.lang.classfile.ClassHierarchyResolver;
import java.lang.classfile.CodeBuilder;
import java.lang.classfile.Label;
import java.lang.classfile.Opcode;
import java.lang.classfile.TypeKind;
import java.lang.classfile.attribute.SourceFileAttribute;
import java.lang.constant.ClassDesc;
import java.lang.constant.ConstantDescs;
import java.lang.constant.DynamicConstantDesc;
import java.lang.constant.MethodTypeDesc;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.lang.reflect.AccessFlag;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import keyguard.policy.BudgetSpec;
import keyguard.policy.DataAction;
import keyguard.policy.DataClass;
import keyguard.policy.Decision;
import keyguard.policy.DecisionInput;
import keyguard.policy.Decisions;
import keyguard.policy.ForbidRule;
import keyguard.policy.LimitSpec;
import keyguard.policy.Metric;
import keyguard.policy.ModelInfo;
import keyguard.policy.Policy;
import keyguard.policy.PolicyEvaluator;
import keyguard.policy.PolicySet;
import keyguard.policy.UsageView;
import keyguard.policy.ir.Ir;
import keyguard.policy.ir.Type;

/**
 * Compiles one {@link Policy} into one hidden class implementing {@link PolicyEvaluator}.
 *
 * <h2>What is emitted</h2>
 * <pre>
 * final class Policy_search implements PolicyEvaluator {
 *   Decision decide(DecisionInput in) {
 *     ModelInfo m = MODELS.get(in.model());           if (m == null) return unknownModel(..)
 *     Decision t = requestTags(POLICY, in);            if (t != null) return t
 *     if (rule0(in, m) || rule1(in, m) ...) return forbidden(all rules that fire)
 *     if (!ALLOWED[m.index()]) return modelNotAllowed(..)
 *     data class check, folded against the policy's clearance      deny | redact | reroute
 *     per limit:  if (AMOUNT - usage.used(COUNTER, now) &lt; need) return THROTTLE_i   // constant decision
 *     per budget: the same with the worst-case cost; soft budgets set warning bits
 *     return routed == m &amp;&amp; no action &amp;&amp; no warnings ? ALLOW : allow(..)
 *   }
 *   static boolean rule0(DecisionInput in, ModelInfo m) { when &amp;&amp; !unless }   // LineNumberTable: the rule's line
 * }
 * </pre>
 *
 * <h2>Invariants</h2>
 * <ul>
 *   <li>Semantics are those of {@code InterpretedPolicy}; the differential test holds the two
 *       together. Precedence is the same, limits are checked in the same (id) order.</li>
 *   <li>Constants (the policy, the model table, counters, patterns, precomputed decisions)
 *       travel as class data and load with {@code ldc} of a dynamic constant
 *       ({@link MethodHandles#classDataAt}), resolved once; nothing is looked up by name at
 *       run time. Conditions were folded by the checker; limits fold here into literals.</li>
 *   <li>An allowed request without side effects, and every throttle, returns a
 *       preallocated {@link Decision}: the hot path allocates nothing.</li>
 *   <li>Classes are defined without {@code STRONG}, so a replaced policy set's classes are
 *       unloaded once nothing references them.</li>
 *   <li>{@code SourceFile} is the policy's file; rules declared there carry their own line,
 *       rules inherited from a template carry the line of the policy declaration.</li>
 * </ul>
 */
public final class PolicyEmitter {
    private static final ClassDesc CD_EVALUATOR = desc(PolicyEvaluator.class);
    private static final ClassDesc CD_POLICY = desc(Policy.class);
    private static final ClassDesc CD_DECISION = desc(Decision.class);
    private static final ClassDesc CD_INPUT = desc(DecisionInput.class);
    private static final ClassDesc CD_MODEL = desc(ModelInfo.class);
    private static final ClassDesc CD_USAGE = desc(UsageView.class);
    private static final ClassDesc CD_COUNTER = desc(keyguard.policy.CounterRef.class);
    private static final ClassDesc CD_DATA_ACTION = desc(DataAction.class);
    private static final ClassDesc CD_DATA_CLASS = desc(DataClass.class);
    private static final ClassDesc CD_DECISIONS = desc(Decisions.class);
    private static final ClassDesc CD_RT = desc(Rt.class);
    private static final ClassDesc CD_LIST = desc(List.class);
    private static final ClassDesc CD_SET = desc(java.util.Set.class);
    private static final ClassDesc CD_ZONE = desc(java.time.ZoneId.class);
    private static final ClassDesc CD_PATTERN = desc(com.google.re2j.Pattern.class);
    private static final ClassDesc CD_LOCALE = desc(java.util.Locale.class);
    private static final ClassDesc CD_FORBID = desc(ForbidRule.class);
    private static final ClassDesc CD_FAILURE = desc(keyguard.functions.FunctionFailure.class);
    private static final MethodTypeDesc MT_RULE = MethodTypeDesc.of(CD_boolean, CD_INPUT, CD_MODEL);

    private final PolicySet set;
    private final Policy policy;
    private final ClassDesc self;
    private final List<Object> classData = new ArrayList<>();
    private final Map<Object, Integer> constantIndex = new IdentityHashMap<>();
    private final String sourceFile;

    private PolicyEmitter(PolicySet set, Policy policy) {
        this.set = set;
        this.policy = policy;
        this.self = ClassDesc.of(PolicyEmitter.class.getPackageName() + ".Policy_" + policy.name().replaceAll("[^A-Za-z0-9_]", "_"));
        this.sourceFile = Path.of(policy.span().file().path()).getFileName().toString();
    }

    /** Emits, defines and instantiates the hidden class for one policy. */
    public static PolicyEvaluator compile(PolicySet set, Policy policy) {
        PolicyEmitter e = new PolicyEmitter(set, policy);
        byte[] bytes = e.emit();
        try {
            MethodHandles.Lookup hidden = MethodHandles.lookup().defineHiddenClassWithClassData(bytes, List.copyOf(e.classData), true);
            return (PolicyEvaluator) hidden.findConstructor(hidden.lookupClass(), MethodType.methodType(void.class)).invoke();
        } catch (Throwable t) {
            throw new IllegalStateException("cannot define the compiled class of policy `" + policy.name() + "`: " + t, t);
        }
    }

    /** The class file bytes, for inspection (javap) and tests. */
    public static byte[] bytes(PolicySet set, Policy policy) {
        return new PolicyEmitter(set, policy).emit();
    }

    private byte[] emit() {
        constant(policy); // index 0
        ClassFile cf = ClassFile.of(ClassFile.ClassHierarchyResolverOption.of(
                ClassHierarchyResolver.defaultResolver().orElse(ClassHierarchyResolver.ofClassLoading(PolicyEmitter.class.getClassLoader()))));
        List<ForbidRule> rules = policy.forbids();
        return cf.build(self, cb -> {
            cb.withFlags(AccessFlag.FINAL, AccessFlag.SYNTHETIC);
            cb.withInterfaceSymbols(CD_EVALUATOR);
            cb.with(SourceFileAttribute.of(sourceFile));
            cb.withMethodBody(ConstantDescs.INIT_NAME, ConstantDescs.MTD_void, ClassFile.ACC_PUBLIC, code -> {
                code.aload(0);
                code.invokespecial(ConstantDescs.CD_Object, ConstantDescs.INIT_NAME, ConstantDescs.MTD_void);
                code.return_();
            });
            cb.withMethodBody("policy", MethodTypeDesc.of(CD_POLICY), ClassFile.ACC_PUBLIC, code -> {
                loadConstant(code, policy, CD_POLICY);
                code.areturn();
            });
            for (int i = 0; i < rules.size(); i++) {
                ForbidRule rule = rules.get(i);
                cb.withMethodBody("rule" + i + "$" + rule.id().replaceAll("[^A-Za-z0-9_]", "_"), MT_RULE,
                        ClassFile.ACC_PRIVATE | ClassFile.ACC_STATIC, code -> ruleBody(code, rule));
            }
            cb.withMethodBody("decide", MethodTypeDesc.of(CD_DECISION, CD_INPUT), ClassFile.ACC_PUBLIC, this::decideBody);
            cb.withMethodBody("toString", MethodTypeDesc.of(CD_String), ClassFile.ACC_PUBLIC, code -> {
                code.ldc("compiled policy " + policy.name() + " (" + set.revision() + ")");
                code.areturn();
            });
        });
    }

    // ------------------------------------------------------------------ decide

    private void decideBody(CodeBuilder code) {
        int in = 1;
        int model = code.allocateLocal(TypeKind.REFERENCE);
        int routed = code.allocateLocal(TypeKind.REFERENCE);
        int action = code.allocateLocal(TypeKind.REFERENCE);
        int usage = code.allocateLocal(TypeKind.REFERENCE);
        int found = code.allocateLocal(TypeKind.INT);
        int cost = code.allocateLocal(TypeKind.LONG);
        int used = code.allocateLocal(TypeKind.LONG);
        int warnings = code.allocateLocal(TypeKind.LONG);
        line(code, policy.span().line());

        // 1. unknown model
        Label known = code.newLabel();
        loadConstant(code, set.models(), CD_Map);
        code.aload(in);
        code.invokevirtual(CD_INPUT, "model", MethodTypeDesc.of(CD_String));
        code.invokeinterface(CD_Map, "get", MethodTypeDesc.of(CD_Object, CD_Object));
        code.checkcast(CD_MODEL);
        code.astore(model);
        code.aload(model);
        code.ifnonnull(known);
        loadConstant(code, policy, CD_POLICY);
        code.aload(in);
        code.invokevirtual(CD_INPUT, "model", MethodTypeDesc.of(CD_String));
        code.invokestatic(CD_DECISIONS, "unknownModel", MethodTypeDesc.of(CD_DECISION, CD_POLICY, CD_String));
        code.areturn();
        code.labelBinding(known);

        // 1b. request tags (only for a policy that declares some, or to refuse any a request carries)
        Label tagsPass = code.newLabel();
        loadConstant(code, policy, CD_POLICY);
        code.aload(in);
        code.invokestatic(CD_DECISIONS, "requestTags", MethodTypeDesc.of(CD_DECISION, CD_POLICY, CD_INPUT));
        code.dup();
        code.ifnull(tagsPass);
        code.areturn();
        code.labelBinding(tagsPass);
        code.pop();

        // 2. forbid rules: any firing rule denies; the deny path collects all that fire
        List<ForbidRule> rules = policy.forbids();
        if (!rules.isEmpty()) {
            Label deny = code.newLabel();
            Label pass = code.newLabel();
            for (int i = 0; i < rules.size(); i++) {
                code.aload(in);
                code.aload(model);
                code.invokestatic(self, ruleName(i), MT_RULE);
                code.ifne(deny);
            }
            code.goto_(pass);
            code.labelBinding(deny);
            int list = code.allocateLocal(TypeKind.REFERENCE);
            code.invokestatic(CD_RT, "newRuleList", MethodTypeDesc.of(CD_LIST));
            code.astore(list);
            for (int i = 0; i < rules.size(); i++) {
                Label skip = code.newLabel();
                code.aload(in);
                code.aload(model);
                code.invokestatic(self, ruleName(i), MT_RULE);
                code.ifeq(skip);
                code.aload(list);
                loadConstant(code, rules.get(i), CD_FORBID);
                code.invokeinterface(CD_LIST, "add", MethodTypeDesc.of(CD_boolean, CD_Object));
                code.pop();
                code.labelBinding(skip);
            }
            loadConstant(code, policy, CD_POLICY);
            code.aload(list);
            code.aload(in);
            code.aload(model);
            code.invokestatic(CD_DECISIONS, "forbidden", MethodTypeDesc.of(CD_DECISION, CD_POLICY, CD_LIST, CD_INPUT, CD_MODEL));
            code.areturn();
            code.labelBinding(pass);
        }

        // 3. model access
        Label allowedModel = code.newLabel();
        loadConstant(code, policy.allowedByIndex(), desc(boolean[].class));
        code.aload(model);
        code.invokevirtual(CD_MODEL, "index", MethodTypeDesc.of(CD_int));
        code.baload();
        code.ifne(allowedModel);
        loadConstant(code, policy, CD_POLICY);
        code.aload(model);
        code.invokestatic(CD_DECISIONS, "modelNotAllowed", MethodTypeDesc.of(CD_DECISION, CD_POLICY, CD_MODEL));
        code.areturn();
        code.labelBinding(allowedModel);

        // 4. data class: found > min(clearance, model ceiling)
        code.aload(model);
        code.astore(routed);
        code.getstatic(CD_DATA_ACTION, "NONE", CD_DATA_ACTION);
        code.astore(action);
        code.aload(in);
        code.loadConstant(policy.allowUnscannable() ? 1 : 0);
        code.invokevirtual(CD_INPUT, "dataClassOrdinal", MethodTypeDesc.of(CD_int, CD_boolean));
        code.istore(found);
        Label dataOk = code.newLabel();
        code.iload(found);
        code.aload(model);
        code.invokevirtual(CD_MODEL, "maxClass", MethodTypeDesc.of(CD_DATA_CLASS));
        code.invokevirtual(CD_DATA_CLASS, "ordinal", MethodTypeDesc.of(CD_int));
        int clearance = policy.data().max().ordinal();
        if (clearance < DataClass.RESTRICTED.ordinal()) {
            code.loadConstant(clearance);
            code.invokestatic(desc(Math.class), "min", MethodTypeDesc.of(CD_int, CD_int, CD_int));
        }
        code.if_icmple(dataOk);
        Label dataDeny = code.newLabel();
        switch (policy.data().action()) {
            case REDACT -> {
                if (!policy.allowUnscannable()) { // what cannot be read cannot be redacted
                    code.aload(in);
                    code.invokevirtual(CD_INPUT, "unscannable", MethodTypeDesc.of(CD_boolean));
                    code.ifne(dataDeny);
                }
                code.getstatic(CD_DATA_ACTION, "REDACT", CD_DATA_ACTION);
                code.astore(action);
                code.goto_(dataOk);
            }
            case REROUTE -> {
                ModelInfo target = policy.data().reroute();
                code.iload(found);
                code.loadConstant(target.maxClass().ordinal());
                code.if_icmpgt(dataDeny);
                loadConstant(code, target, CD_MODEL);
                code.astore(routed);
                code.getstatic(CD_DATA_ACTION, "REROUTE", CD_DATA_ACTION);
                code.astore(action);
                code.goto_(dataOk);
            }
            default -> code.goto_(dataDeny);
        }
        code.labelBinding(dataDeny);
        loadConstant(code, policy, CD_POLICY);
        code.aload(model);
        code.aload(in);
        code.iload(found);
        code.invokestatic(CD_DECISIONS, "dataDenied", MethodTypeDesc.of(CD_DECISION, CD_POLICY, CD_MODEL, CD_INPUT, CD_int));
        code.areturn();
        code.labelBinding(dataOk);

        // 4b. a model that never takes unscannable content (only emitted when one exists)
        if (set.models().values().stream().anyMatch(m -> !m.acceptsUnscannable())) {
            Label scannable = code.newLabel();
            code.aload(in);
            code.invokevirtual(CD_INPUT, "unscannable", MethodTypeDesc.of(CD_boolean));
            code.ifeq(scannable);
            code.aload(routed);
            code.invokevirtual(CD_MODEL, "acceptsUnscannable", MethodTypeDesc.of(CD_boolean));
            code.ifne(scannable);
            loadConstant(code, policy, CD_POLICY);
            code.aload(routed);
            code.invokestatic(CD_DECISIONS, "unscannableRefused", MethodTypeDesc.of(CD_DECISION, CD_POLICY, CD_MODEL));
            code.areturn();
            code.labelBinding(scannable);
        }

        // 5. rate limits, then concurrency: AMOUNT - used < need  ->  constant throttle decision
        code.aload(in);
        code.invokevirtual(CD_INPUT, "usage", MethodTypeDesc.of(CD_USAGE));
        code.astore(usage);
        List<LimitSpec> limits = new ArrayList<>(policy.rateLimits());
        limits.addAll(policy.concurrency());
        for (LimitSpec limit : limits) {
            line(code, limit.span());
            Label ok = code.newLabel();
            code.loadConstant(limit.amount());
            code.aload(usage);
            loadConstant(code, limit.counter(), CD_COUNTER);
            code.aload(in);
            code.invokevirtual(CD_INPUT, "epochMillis", MethodTypeDesc.of(CD_long));
            code.invokeinterface(CD_USAGE, "usedForCap", MethodTypeDesc.of(CD_long, CD_COUNTER, CD_long));
            code.lsub();
            if (limit.counter().metric() == Metric.TOKENS) {
                code.aload(in);
                code.invokevirtual(CD_INPUT, "tokensNeeded", MethodTypeDesc.of(CD_long));
            } else {
                code.lconst_1();
            }
            code.lcmp();
            code.ifge(ok);
            loadConstant(code, Decisions.throttled(policy, limit), CD_DECISION);
            code.areturn();
            code.labelBinding(ok);
        }

        // 6. budgets: worst-case cost of the routed model
        List<BudgetSpec> budgets = policy.budgets();
        code.lconst_0();
        code.lstore(warnings);
        if (!budgets.isEmpty()) {
            code.aload(routed);
            code.aload(in);
            code.invokevirtual(CD_INPUT, "estimatedTokens", MethodTypeDesc.of(CD_long));
            code.aload(in);
            code.invokevirtual(CD_INPUT, "maxTokens", MethodTypeDesc.of(CD_long));
            code.invokevirtual(CD_MODEL, "costMicros", MethodTypeDesc.of(CD_long, CD_long, CD_long));
            code.lstore(cost);
        }
        for (int i = 0; i < budgets.size(); i++) {
            BudgetSpec b = budgets.get(i);
            line(code, b.span());
            code.aload(usage);
            loadConstant(code, b.counter(), CD_COUNTER);
            code.aload(in);
            code.invokevirtual(CD_INPUT, "epochMillis", MethodTypeDesc.of(CD_long));
            code.invokeinterface(CD_USAGE, "used", MethodTypeDesc.of(CD_long, CD_COUNTER, CD_long));
            code.lstore(used);
            Label notOver = code.newLabel();
            code.loadConstant(b.amount());
            if (b.hard()) {
                // A hard refusal relies only on what the counter surely holds (the admission is exact).
                code.aload(usage);
                loadConstant(code, b.counter(), CD_COUNTER);
                code.aload(in);
                code.invokevirtual(CD_INPUT, "epochMillis", MethodTypeDesc.of(CD_long));
                code.invokeinterface(CD_USAGE, "usedForCap", MethodTypeDesc.of(CD_long, CD_COUNTER, CD_long));
            } else {
                code.lload(used);
            }
            code.lsub();
            code.lload(cost);
            code.lcmp();
            code.ifge(notOver);
            if (b.hard()) {
                loadConstant(code, Decisions.throttled(policy, b), CD_DECISION);
                code.areturn();
            } else {
                orBit(code, warnings, 1L << (2 * i + 1));
            }
            code.labelBinding(notOver);
            if (b.warnPercent() > 0) {
                Label noWarn = code.newLabel();
                code.loadConstant(b.warnAt());
                code.lload(used);
                code.lsub();
                code.lload(cost);
                code.lcmp();
                code.ifgt(noWarn);
                orBit(code, warnings, 1L << (2 * i));
                code.labelBinding(noWarn);
            }
        }

        // 7. allow: the preallocated decision unless something is special
        Label special = code.newLabel();
        code.aload(routed);
        code.aload(model);
        code.if_acmpne(special);
        code.aload(action);
        code.getstatic(CD_DATA_ACTION, "NONE", CD_DATA_ACTION);
        code.if_acmpne(special);
        code.lload(warnings);
        code.lconst_0();
        code.lcmp();
        code.ifne(special);
        loadConstant(code, Decisions.allow(policy), CD_DECISION);
        code.areturn();
        code.labelBinding(special);
        loadConstant(code, policy, CD_POLICY);
        code.aload(model);
        code.aload(routed);
        code.aload(action);
        code.lload(warnings);
        code.invokestatic(CD_DECISIONS, "allow", MethodTypeDesc.of(CD_DECISION, CD_POLICY, CD_MODEL, CD_MODEL, CD_DATA_ACTION, CD_long));
        code.areturn();
    }

    private static void orBit(CodeBuilder code, int local, long bit) {
        code.lload(local);
        code.loadConstant(bit);
        code.lor();
        code.lstore(local);
    }

    private String ruleName(int i) {
        return "rule" + i + "$" + policy.forbids().get(i).id().replaceAll("[^A-Za-z0-9_]", "_");
    }

    private void line(CodeBuilder code, keyguard.lang.source.Span span) {
        boolean sameFile = span.file() == policy.span().file();
        line(code, sameFile ? span.line() : policy.span().line());
    }

    private static void line(CodeBuilder code, int line) {
        code.lineNumber(line);
    }

    // ------------------------------------------------------------------ rules and conditions

    private void ruleBody(CodeBuilder code, ForbidRule rule) {
        line(code, rule.conditionSpan());
        if (!callsFunctions(rule.when()) && (rule.unless() == null || !callsFunctions(rule.unless()))) {
            ruleConditions(code, rule);
            return;
        }
        // A failing function throws FunctionFailure: the rule does what `on error` says.
        code.trying(body -> ruleConditions(body, rule), catches -> catches.catching(CD_FAILURE, handler -> {
            handler.aload(0);
            loadConstant(handler, rule, CD_FORBID);
            loadConstant(handler, policy, CD_POLICY);
            handler.invokestatic(CD_RT, "ruleFailed", MethodTypeDesc.of(CD_boolean, CD_FAILURE, CD_INPUT, CD_FORBID, CD_POLICY));
            handler.ireturn();
        }));
        code.iconst_0(); // not reached: both blocks return
        code.ireturn();
    }

    static boolean callsFunctions(Ir ir) {
        return switch (ir) {
            case Ir.Invoke i -> true;
            case Ir.Const c -> false;
            case Ir.Read r -> false;
            case Ir.Usage u -> false;
            case Ir.Lookup l -> callsFunctions(l.map()) || callsFunctions(l.key());
            case Ir.Not n -> callsFunctions(n.operand());
            case Ir.Neg n -> callsFunctions(n.operand());
            case Ir.And a -> callsFunctions(a.left()) || callsFunctions(a.right());
            case Ir.Or o -> callsFunctions(o.left()) || callsFunctions(o.right());
            case Ir.Compare c -> callsFunctions(c.left()) || callsFunctions(c.right());
            case Ir.InList l -> callsFunctions(l.element());
            case Ir.InRange r -> callsFunctions(r.element());
            case Ir.Call c -> c.args().stream().anyMatch(PolicyEmitter::callsFunctions);
        };
    }

    private void ruleConditions(CodeBuilder code, ForbidRule rule) {
        Label no = code.newLabel();
        new Conditions(code).jump(rule.when(), no, false);
        if (rule.unless() != null) new Conditions(code).jump(rule.unless(), no, true);
        code.iconst_1();
        code.ireturn();
        code.labelBinding(no);
        code.iconst_0();
        code.ireturn();
    }

    /** Emits conditions of one rule method, where local 0 is the input and local 1 the model. */
    private final class Conditions {
        private final CodeBuilder code;

        Conditions(CodeBuilder code) { this.code = code; }

        /** Jumps to {@code target} when {@code ir} evaluates to {@code when}; falls through otherwise. */
        void jump(Ir ir, Label target, boolean when) {
            switch (ir) {
                case Ir.Const c -> {
                    if ((Boolean) c.value() == when) code.goto_(target);
                }
                case Ir.Not n -> jump(n.operand(), target, !when);
                case Ir.And a -> {
                    if (!when) {
                        jump(a.left(), target, false);
                        jump(a.right(), target, false);
                    } else {
                        Label skip = code.newLabel();
                        jump(a.left(), skip, false);
                        jump(a.right(), target, true);
                        code.labelBinding(skip);
                    }
                }
                case Ir.Or o -> {
                    if (when) {
                        jump(o.left(), target, true);
                        jump(o.right(), target, true);
                    } else {
                        Label skip = code.newLabel();
                        jump(o.left(), skip, true);
                        jump(o.right(), target, false);
                        code.labelBinding(skip);
                    }
                }
                case Ir.Compare c -> compare(c, target, when);
                case Ir.InList l -> inList(l, target, when);
                case Ir.InRange r -> inRange(r, target, when);
                default -> {
                    value(ir); // a boolean read or call: int 0/1
                    if (when) code.ifne(target);
                    else code.ifeq(target);
                }
            }
        }

        private void compare(Ir.Compare c, Label target, boolean when) {
            Type t = c.left().type();
            value(c.left());
            value(c.right());
            Ir.Op op = when ? c.op() : negate(c.op());
            switch (t) {
                case INT -> {
                    code.lcmp();
                    code.branch(switch (op) {
                        case EQ -> Opcode.IFEQ;
                        case NE -> Opcode.IFNE;
                        case LT -> Opcode.IFLT;
                        case LE -> Opcode.IFLE;
                        case GT -> Opcode.IFGT;
                        case GE -> Opcode.IFGE;
                    }, target);
                }
                case STRING -> {
                    code.invokevirtual(CD_String, "equals", MethodTypeDesc.of(CD_boolean, CD_Object));
                    if (op == Ir.Op.EQ) code.ifne(target);
                    else code.ifeq(target);
                }
                default -> code.branch(switch (op) { // BOOL, CLASS, WEEKDAY: ints
                    case EQ -> Opcode.IF_ICMPEQ;
                    case NE -> Opcode.IF_ICMPNE;
                    case LT -> Opcode.IF_ICMPLT;
                    case LE -> Opcode.IF_ICMPLE;
                    case GT -> Opcode.IF_ICMPGT;
                    case GE -> Opcode.IF_ICMPGE;
                }, target);
            }
        }

        private static Ir.Op negate(Ir.Op op) {
            return switch (op) {
                case EQ -> Ir.Op.NE;
                case NE -> Ir.Op.EQ;
                case LT -> Ir.Op.GE;
                case LE -> Ir.Op.GT;
                case GT -> Ir.Op.LE;
                case GE -> Ir.Op.LT;
            };
        }

        private void inList(Ir.InList l, Label target, boolean when) {
            Type t = l.element().type();
            if (t == Type.STRING && l.values().size() > 8) {
                loadConstant(code, new HashSet<>(l.values()), CD_SET);
                value(l.element());
                code.invokeinterface(CD_SET, "contains", MethodTypeDesc.of(CD_boolean, CD_Object));
                if (when) code.ifne(target);
                else code.ifeq(target);
                return;
            }
            TypeKind kind = t == Type.STRING ? TypeKind.REFERENCE : t == Type.INT ? TypeKind.LONG : TypeKind.INT;
            int tmp = code.allocateLocal(kind);
            value(l.element());
            code.storeLocal(kind, tmp);
            Label found = when ? target : code.newLabel();
            for (Object v : l.values()) {
                code.loadLocal(kind, tmp);
                switch (t) {
                    case STRING -> {
                        code.ldc((String) v);
                        code.invokevirtual(CD_String, "equals", MethodTypeDesc.of(CD_boolean, CD_Object));
                        code.ifne(found);
                    }
                    case INT -> {
                        code.loadConstant((Long) v);
                        code.lcmp();
                        code.ifeq(found);
                    }
                    default -> {
                        code.loadConstant((Integer) v);
                        code.if_icmpeq(found);
                    }
                }
            }
            if (!when) {
                code.goto_(target);
                code.labelBinding(found);
            }
        }

        private void inRange(Ir.InRange r, Label target, boolean when) {
            boolean isLong = r.element().type() == Type.INT;
            TypeKind kind = isLong ? TypeKind.LONG : TypeKind.INT;
            int tmp = code.allocateLocal(kind);
            value(r.element());
            code.storeLocal(kind, tmp);
            Label outside = when ? code.newLabel() : target;
            code.loadLocal(kind, tmp);
            if (isLong) {
                code.loadConstant(r.low());
                code.lcmp();
                code.iflt(outside);
                code.loadLocal(kind, tmp);
                code.loadConstant(r.high());
                code.lcmp();
                code.ifgt(outside);
            } else {
                code.loadConstant((int) r.low());
                code.if_icmplt(outside);
                code.loadLocal(kind, tmp);
                code.loadConstant((int) r.high());
                code.if_icmpgt(outside);
            }
            if (when) {
                code.goto_(target);
                code.labelBinding(outside);
            }
        }

        /** Pushes the value: BOOL and CLASS/WEEKDAY as int, INT as long, STRING, MAP as references. */
        void value(Ir ir) {
            switch (ir) {
                case Ir.Const c -> {
                    switch (c.type()) {
                        case BOOL -> code.loadConstant((Boolean) c.value() ? 1 : 0);
                        case INT -> code.loadConstant((Long) c.value());
                        case STRING -> code.ldc((String) c.value());
                        default -> code.loadConstant((Integer) c.value());
                    }
                }
                case Ir.Read r -> read(r);
                case Ir.Usage u -> {
                    code.aload(0);
                    code.invokevirtual(CD_INPUT, "usage", MethodTypeDesc.of(CD_USAGE));
                    loadConstant(code, u.counter(), CD_COUNTER);
                    code.aload(0);
                    code.invokevirtual(CD_INPUT, "epochMillis", MethodTypeDesc.of(CD_long));
                    code.invokeinterface(CD_USAGE, "used", MethodTypeDesc.of(CD_long, CD_COUNTER, CD_long));
                }
                case Ir.Lookup l -> {
                    value(l.map());
                    value(l.key());
                    code.invokestatic(CD_RT, "lookup", MethodTypeDesc.of(CD_String, CD_Map, CD_String));
                }
                case Ir.Neg n -> {
                    value(n.operand());
                    code.lneg();
                }
                case Ir.Call c -> call(c);
                case Ir.Invoke f -> {
                    // A constant method handle: the JIT inlines invokeExact like a direct call.
                    loadConstant(code, f.function().invoker(), ConstantDescs.CD_MethodHandle);
                    ClassDesc[] params = new ClassDesc[f.args().size()];
                    for (int i = 0; i < params.length; i++) {
                        value(f.args().get(i));
                        params[i] = desc(keyguard.functions.FunctionRef.javaType(f.function().params().get(i)));
                    }
                    code.invokevirtual(ConstantDescs.CD_MethodHandle, "invokeExact",
                            MethodTypeDesc.of(desc(keyguard.functions.FunctionRef.javaType(f.function().result())), params));
                }
                default -> { // boolean-valued: materialise 0/1
                    Label no = code.newLabel();
                    Label end = code.newLabel();
                    jump(ir, no, false);
                    code.iconst_1();
                    code.goto_(end);
                    code.labelBinding(no);
                    code.iconst_0();
                    code.labelBinding(end);
                }
            }
        }

        private void call(Ir.Call c) {
            switch (c.function()) {
                case MATCHES -> {
                    String prefix = Rt.literalPrefix(c.pattern().pattern());
                    if (prefix.isEmpty()) {
                        loadConstant(code, c.pattern(), CD_PATTERN);
                        value(c.args().get(0));
                        code.invokestatic(CD_RT, "matches", MethodTypeDesc.of(CD_boolean, CD_PATTERN, CD_String));
                    } else {
                        // An anchored literal prefix is required for any match: test it first, without a matcher.
                        Label no = code.newLabel();
                        Label end = code.newLabel();
                        int tmp = code.allocateLocal(TypeKind.REFERENCE);
                        value(c.args().get(0));
                        code.astore(tmp);
                        code.aload(tmp);
                        code.ldc(prefix);
                        code.invokevirtual(CD_String, "startsWith", MethodTypeDesc.of(CD_boolean, CD_String));
                        code.ifeq(no);
                        loadConstant(code, c.pattern(), CD_PATTERN);
                        code.aload(tmp);
                        code.invokestatic(CD_RT, "matches", MethodTypeDesc.of(CD_boolean, CD_PATTERN, CD_String));
                        code.goto_(end);
                        code.labelBinding(no);
                        code.iconst_0();
                        code.labelBinding(end);
                    }
                }
                case STARTS_WITH, ENDS_WITH -> {
                    value(c.args().get(0));
                    value(c.args().get(1));
                    code.invokevirtual(CD_String, c.function().word(), MethodTypeDesc.of(CD_boolean, CD_String));
                }
                case CONTAINS -> {
                    value(c.args().get(0));
                    value(c.args().get(1));
                    code.invokevirtual(CD_String, "contains", MethodTypeDesc.of(CD_boolean, desc(CharSequence.class)));
                }
                case LOWER, UPPER -> {
                    value(c.args().get(0));
                    code.getstatic(CD_LOCALE, "ROOT", CD_LOCALE);
                    code.invokevirtual(CD_String, c.function() == keyguard.policy.ir.Builtin.LOWER ? "toLowerCase" : "toUpperCase",
                            MethodTypeDesc.of(CD_String, CD_LOCALE));
                }
            }
        }

        private void read(Ir.Read r) {
            switch (r.field()) {
                case REQUEST_MODEL -> input("model", CD_String);
                case REQUEST_ESTIMATED_TOKENS -> input("estimatedTokens", CD_long);
                case REQUEST_MAX_TOKENS -> input("maxTokens", CD_long);
                case REQUEST_STREAM -> input("stream", CD_boolean);
                case REQUEST_CLASSIFICATION -> input("classificationOrdinal", CD_int);
                case REQUEST_UNSCANNABLE -> input("unscannable", CD_boolean);
                case REQUEST_TAGS -> input("requestTags", CD_Map);
                case REQUEST_METADATA -> input("metadata", CD_Map);
                case KEY_ID -> input("keyId", CD_String);
                case KEY_NAME -> input("keyName", CD_String);
                case KEY_OWNER -> input("keyOwner", CD_String);
                case KEY_LABELS -> input("labels", CD_Map);
                case MODEL_ID -> model("name", CD_String);
                case MODEL_PROVIDER -> model("provider", CD_String);
                case MODEL_HOSTING -> model("hosting", CD_String);
                case MODEL_MAX_CLASS -> {
                    model("maxClass", CD_DATA_CLASS);
                    code.invokevirtual(CD_DATA_CLASS, "ordinal", MethodTypeDesc.of(CD_int));
                }
                case MODEL_CONTEXT -> model("context", CD_long);
                case TIME_HOUR -> {
                    time("hour", CD_int);
                    code.i2l();
                }
                case TIME_MINUTE -> {
                    time("minute", CD_int);
                    code.i2l();
                }
                case TIME_WEEKDAY -> time("weekday", CD_int);
                case TIME_DATE -> time("date", CD_String);
            }
        }

        private void input(String getter, ClassDesc type) {
            code.aload(0);
            code.invokevirtual(CD_INPUT, getter, MethodTypeDesc.of(type));
        }

        private void model(String getter, ClassDesc type) {
            code.aload(1);
            code.invokevirtual(CD_MODEL, getter, MethodTypeDesc.of(type));
        }

        private void time(String getter, ClassDesc type) {
            code.aload(0);
            loadConstant(code, policy.zone(), CD_ZONE);
            code.invokevirtual(CD_INPUT, getter, MethodTypeDesc.of(type, CD_ZONE));
        }
    }

    // ------------------------------------------------------------------ class data

    private int constant(Object value) {
        return constantIndex.computeIfAbsent(value, v -> {
            classData.add(v);
            return classData.size() - 1;
        });
    }

    private void loadConstant(CodeBuilder code, Object value, ClassDesc type) {
        int index = constant(value);
        code.ldc(DynamicConstantDesc.ofNamed(ConstantDescs.BSM_CLASS_DATA_AT, ConstantDescs.DEFAULT_NAME, type, index));
    }

    private static ClassDesc desc(Class<?> c) {
        return c.describeConstable().orElseThrow();
    }

}
