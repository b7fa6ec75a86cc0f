package keyguard.bench;

import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import keyguard.compiler.PolicyCompiler;
import keyguard.compiler.emit.CompiledPolicies;
import keyguard.policy.PolicyEvaluator;

/**
 * Compiles a generated repository of N policies (default 10,000: a quarter stand-alone,
 * the rest from five templates, each with rules, limits and budgets) and reports the
 * time of each phase and the memory it keeps. Not JMH: this is one large cold run, as a
 * gateway with a big repository does at start.
 *
 * <pre>
 * java -cp bench/target/benchmarks.jar keyguard.bench.ManyPolicies 10000
 * </pre>
 */
public final class ManyPolicies {
    private ManyPolicies() {}

    public static void main(String[] args) {
        int n = args.length > 0 ? Integer.parseInt(args[0]) : 10_000;
        List<PolicyCompiler.Source> sources = generate(n);
        long bytes = sources.stream().mapToLong(s -> s.bytes().length).sum();
        long heapBefore = usedHeap();
        long metaBefore = metaspace();

        long t0 = System.nanoTime();
        PolicyCompiler.Result r = PolicyCompiler.compile(sources);
        long t1 = System.nanoTime();
        if (!r.ok()) throw new IllegalStateException(r.diagnostics().render());
        Map<String, PolicyEvaluator> evaluators = CompiledPolicies.compile(r.set());
        long t2 = System.nanoTime();

        long heapAfter = usedHeap();
        long metaAfter = metaspace();
        System.out.printf("policies            %,d (%,d files, %,d KB of source)%n", evaluators.size(), sources.size(), bytes / 1024);
        System.out.printf("parse + check       %,d ms%n", (t1 - t0) / 1_000_000);
        System.out.printf("emit + define       %,d ms%n", (t2 - t1) / 1_000_000);
        System.out.printf("total               %,d ms%n", (t2 - t0) / 1_000_000);
        System.out.printf("heap kept           %,d MB (after full GC)%n", (heapAfter - heapBefore) / (1024 * 1024));
        System.out.printf("metaspace           %,d MB (%,d bytes per compiled policy)%n", (metaAfter - metaBefore) / (1024 * 1024),
                (metaAfter - metaBefore) / Math.max(1, evaluators.size()));
        long t3 = System.nanoTime();
        PolicyCompiler.analyze(r);
        long t4 = System.nanoTime();
        System.out.printf("analysis            %,d ms (keyguard check only; %,d findings)%n", (t4 - t3) / 1_000_000,
                r.diagnostics().sorted().stream().filter(d -> d.code().id().startsWith("KG09")).count());
        if (evaluators.size() != n) throw new IllegalStateException("expected " + n + " policies, got " + evaluators.size());
    }

    static List<PolicyCompiler.Source> generate(int n) {
        List<PolicyCompiler.Source> out = new ArrayList<>();
        StringBuilder models = new StringBuilder("provider sim { builtin simulator }\nlabel env { set_by operator }\n");
        for (int m = 0; m < 20; m++) {
            models.append("model \"m").append(m).append("\" { provider sim price input ").append(m + 1)
                    .append(" usd per 1m tokens, output ").append(2 * m + 1).append(" usd per 1m tokens max_class ")
                    .append(m % 3 == 0 ? "confidential" : "internal").append(" }\n");
        }
        for (int t = 0; t < 5; t++) {
            models.append("template t").append(t).append("(team: string, rpm: int = 600) {\n")
                    .append("  tags { team: team, tier: \"t").append(t).append("\" }\n")
                    .append("  models allow [\"m0\", \"m1\", \"m").append(t + 2).append("\"]\n")
                    .append("  limit requests rpm per 1m by key\n  limit tokens 1_000_000 per 1d by policy\n  limit concurrent 8 by key\n")
                    .append("  budget 50 usd per day hard by policy\n  budget 800 usd per month soft warn at 80% by policy\n")
                    .append("  data max internal on violation reroute \"m0\"\n")
                    .append("  @id(\"env\") forbid when { key.env == \"\" }\n}\n");
        }
        out.add(new PolicyCompiler.Source("platform/models.kgp", models.toString().getBytes(StandardCharsets.UTF_8)));
        int perFile = 100;
        for (int f = 0; f * perFile < n; f++) {
            StringBuilder sb = new StringBuilder();
            for (int i = f * perFile; i < Math.min(n, (f + 1) * perFile); i++) {
                if (i % 4 == 0) {
                    sb.append("policy p").append(i).append(" {\n  tags { team: \"team").append(i).append("\" }\n")
                            .append("  models allow [\"m").append(i % 20).append("\", \"m").append((i + 7) % 20).append("\"]\n")
                            .append("  limit requests ").append(100 + i % 900).append(" per 1m by key\n")
                            .append("  budget ").append(10 + i % 90).append(" usd per week hard by policy\n");
                } else {
                    sb.append("policy p").append(i).append(" = t").append(i % 5).append("(team: \"team").append(i).append("\", rpm: ")
                            .append(60 + i % 500).append(") {\n  models allow += [\"m").append(i % 20).append("\"]\n");
                }
                sb.append("  @id(\"office-").append(i).append("\")\n  forbid when { model.id == \"m").append(i % 20)
                        .append("\" && !(key.name in [\"svc-").append(i).append("\", \"ops\"]) }\n")
                        .append("         unless { time.weekday in mon..fri && time.hour in 8..18 }\n")
                        .append("  @id(\"big-").append(i).append("\")\n  forbid when { request.estimated_tokens > ").append(10_000 + i)
                        .append(" && startsWith(key.name, \"tmp-\") }\n}\n");
            }
            out.add(new PolicyCompiler.Source(String.format("teams/f%04d.kgp", f), sb.toString().getBytes(StandardCharsets.UTF_8)));
        }
        return out;
    }

    private static long usedHeap() {
        for (int i = 0; i < 3; i++) System.gc();
        Runtime rt = Runtime.getRuntime();
        return rt.totalMemory() - rt.freeMemory();
    }

    private static long metaspace() {
        long used = 0;
        for (MemoryPoolMXBean pool : ManagementFactory.getMemoryPoolMXBeans()) {
            if (pool.getType() == MemoryType.NON_HEAP && pool.getName().contains("Metaspace")) used += pool.getUsage().getUsed();
        }
        return used;
    }
}
