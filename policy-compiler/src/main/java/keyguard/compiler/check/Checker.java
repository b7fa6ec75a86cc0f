package keyguard.compiler.check;

import java.math.BigDecimal;
import java.time.DateTimeException;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import keyguard.lang.diag.Code;
import keyguard.lang.diag.Diagnostic;
import keyguard.lang.diag.Diagnostics;
import keyguard.lang.source.Span;
import keyguard.lang.syntax.Annotation;
import keyguard.lang.syntax.Expr;
import keyguard.lang.syntax.Item;
import keyguard.lang.syntax.MapEntry;
import keyguard.lang.syntax.Name;
import keyguard.lang.syntax.PolicyFile;
import keyguard.lang.syntax.PriceTerm;
import keyguard.lang.syntax.Quantity;
import keyguard.lang.syntax.Setting;
import keyguard.lang.syntax.Statement;
import keyguard.lang.syntax.Value;
import keyguard.policy.AlertSpec;
import keyguard.policy.BudgetSpec;
import keyguard.policy.ChannelSpec;
import keyguard.policy.CounterRef;
import keyguard.policy.DataAction;
import keyguard.policy.DataClass;
import keyguard.policy.DataRule;
import keyguard.policy.DetectorSpec;
import keyguard.policy.Durations;
import keyguard.policy.ForbidRule;
import keyguard.policy.Limit;
import keyguard.policy.LimitSpec;
import keyguard.policy.Metric;
import keyguard.policy.ModelInfo;
import keyguard.policy.Pricing;
import keyguard.policy.Money;
import keyguard.policy.Period;
import keyguard.policy.Policy;
import keyguard.policy.PolicySet;
import keyguard.policy.PolicyTestCase;
import keyguard.policy.ProviderInfo;
import keyguard.policy.ReasonTemplate;
import keyguard.policy.Scope;
import keyguard.policy.ir.Ir;
import keyguard.policy.ir.Type;

/**
 * Name binding and checking of a whole policy directory: declarations, templates and
 * inheritance, limits and budgets, conditions, tests. Produces a {@link PolicySet} when
 * there are no errors. Warnings never stop a set from loading.
 *
 * <p>Inheritance: a policy built from a template starts from the template's body with the
 * arguments substituted; its own body may add anything, and must say {@code override} to
 * replace an inherited limit, budget, data rule or model list. Overriding to something
 * looser is a warning ({@link Code#KG0314}), never silent.
 */
public final class Checker {
    private static final long MAX_WINDOW_SECONDS = 31L * 86_400;
    private static final Set<String> PROVIDER_SETTINGS = Set.of("builtin", "kind", "base_url", "credential", "latency",
            "chunk_delay", "timeout", "api_version", "output_cap");
    private static final Set<String> MODEL_SETTINGS = Set.of("provider", "upstream", "context", "max_class", "hosting", "type", "unscannable");
    /** {@code service_tier_priority 2}: the model's price multiplier for a request in that service tier. */
    static final String SERVICE_TIER_PREFIX = "service_tier_";
    private static final Set<String> PARAM_TYPES = Set.of("string", "int", "bool", "class");

    private final Diagnostics diagnostics;
    private final Map<String, Item.Provider> providerDecls = new LinkedHashMap<>();
    private final Map<String, Item.Model> modelDecls = new LinkedHashMap<>();
    private final Map<String, Item.Detector> detectorDecls = new LinkedHashMap<>();
    private final Map<String, Item.Function> functionDecls = new LinkedHashMap<>();
    private final Map<String, Item.Label> labelDecls = new LinkedHashMap<>();
    private final Map<String, keyguard.policy.LabelSpec> labels = new LinkedHashMap<>();
    private final Map<String, Item.OrgUnit> unitDecls = new LinkedHashMap<>();
    private final Map<String, Item.Team> teamDecls = new LinkedHashMap<>();
    private final Map<String, Item.Channel> channelDecls = new LinkedHashMap<>();
    private final Map<String, ChannelSpec> channels = new LinkedHashMap<>();
    private keyguard.policy.OrgChart org = keyguard.policy.OrgChart.NONE;
    private final Map<String, Item.Template> templates = new LinkedHashMap<>();
    private final Map<String, Item.Policy> policyDecls = new LinkedHashMap<>();
    /** Several {@code tests} blocks may test one policy, e.g. from different files; they add up. */
    private final List<Item.Tests> testDecls = new ArrayList<>();

    private final Map<String, ProviderInfo> providers = new LinkedHashMap<>();
    private final Map<String, ModelInfo> models = new LinkedHashMap<>();
    private final List<DetectorSpec> detectors = new ArrayList<>();

    private final FunctionScope functionScope;
    private final keyguard.compiler.Trust trust;
    /** Paths of the files a team owns; every other file is the operator's. */
    private final Set<String> teamFiles;

    private Checker(Diagnostics diagnostics, FunctionScope functionScope, keyguard.compiler.Trust trust, Set<String> teamFiles) {
        this.diagnostics = diagnostics;
        this.functionScope = functionScope;
        this.trust = trust;
        this.teamFiles = teamFiles;
    }

    /** Checks parsed files (in the order given, which should be by path) into a set, or null on errors. */
    public static PolicySet check(List<PolicyFile> files, String revision, Diagnostics diagnostics) {
        return check(files, revision, diagnostics, new FunctionScope(keyguard.functions.FunctionLibrary.NONE, Map.of()));
    }

    /**
     * As {@link #check(List, String, Diagnostics)}, with the plugin functions of the
     * deployment and the other files of the policy directory (JavaScript sources by path).
     */
    public static PolicySet check(List<PolicyFile> files, String revision, Diagnostics diagnostics, FunctionScope functions) {
        return check(files, revision, diagnostics, functions, keyguard.compiler.Trust.DEFAULT, Set.of());
    }

    /**
     * As {@link #check(List, String, Diagnostics, FunctionScope)}, with what the operator
     * trusts the repository with and the files that belong to teams (by path).
     */
    public static PolicySet check(List<PolicyFile> files, String revision, Diagnostics diagnostics, FunctionScope functions,
                                  keyguard.compiler.Trust trust, Set<String> teamFiles) {
        Checker c = new Checker(diagnostics, functions, trust, teamFiles);
        c.declare(files);
        c.checkProviders();
        c.checkModels();
        c.checkDetectors();
        c.checkLabels();
        c.checkChannels();
        c.checkOrg();
        functions.declare(c.functionDecls.values(), diagnostics, teamFiles);
        c.checkTemplates();
        Map<String, Policy> policies = new LinkedHashMap<>();
        for (Item.Policy p : c.policyDecls.values()) {
            Policy resolved = c.resolvePolicy(p);
            if (resolved != null) policies.put(p.name().text(), resolved);
        }
        c.checkUnusedTemplates();
        c.requestTagsAreNoAuditTags(policies);
        c.organisationalScopesHaveAnOrganisation(policies);
        List<PolicyTestCase> tests = new TestChecker(diagnostics, c.models, policies, c.policyDecls.keySet()).check(c.testDecls);
        if (diagnostics.hasErrors()) {
            functions.close();
            return null;
        }
        return new PolicySet(revision, Map.copyOf(c.providers), java.util.Collections.unmodifiableMap(c.models),
                java.util.Collections.unmodifiableMap(policies), List.copyOf(tests), List.copyOf(c.detectors), functions.scripts(),
                java.util.Collections.unmodifiableMap(c.labels), c.org, java.util.Collections.unmodifiableMap(c.channels));
    }

    // ------------------------------------------------------------------ declarations

    private void declare(List<PolicyFile> files) {
        for (PolicyFile f : files) {
            for (Item item : f.items()) {
                if (item instanceof Item.Tests t) {
                    testDecls.add(t);
                    continue;
                }
                if (operatorOnly(item) && teamFiles.contains(f.source().path())) {
                    diagnostics.add(Diagnostic.error(Code.KG0605, item.name().span(), kind(item) + " `" + item.name().text()
                                    + "` is declared in a team's file")
                            .label(kind(item) + "s are declared by the operator")
                            .help("move it to `" + trust.operatorDir() + "/`, which the platform team owns"));
                    continue;
                }
                Map<String, ? extends Item> table = switch (item) {
                    case Item.Provider p -> providerDecls;
                    case Item.Model m -> modelDecls;
                    case Item.Detector d -> detectorDecls;
                    case Item.Label l -> labelDecls;
                    case Item.OrgUnit o -> unitDecls;
                    case Item.Team t -> teamDecls;
                    case Item.Channel ch -> channelDecls;
                    case Item.Function fn -> functionDecls;
                    case Item.Template t -> templates;
                    case Item.Policy p -> policyDecls;
                    case Item.Tests t -> throw new IllegalStateException("handled above");
                };
                String name = item.name().text();
                Item previous = table.get(name);
                if (previous == null && (item instanceof Item.Template || item instanceof Item.Policy)) {
                    previous = item instanceof Item.Template ? policyDecls.get(name) : templates.get(name);
                }
                if (previous != null) {
                    diagnostics.add(Diagnostic.error(Code.KG0101, item.name().span(), kind(item) + " `" + name + "` is declared twice")
                            .label("first declared at " + previous.name().span().location())
                            .help("names of providers, models, templates and policies are global; rename one"));
                    continue;
                }
                put(table, name, item);
            }
        }
    }

    /** Declarations that reach every policy, a credential or a trust decision: the operator's alone. */
    private static boolean operatorOnly(Item item) {
        return item instanceof Item.Provider || item instanceof Item.Model || item instanceof Item.Detector || item instanceof Item.Label
                || item instanceof Item.OrgUnit || item instanceof Item.Team || item instanceof Item.Channel;
    }

    @SuppressWarnings("unchecked")
    private static <T extends Item> void put(Map<String, T> table, String name, Item item) {
        table.put(name, (T) item);
    }

    private static String kind(Item item) {
        return switch (item) {
            case Item.Provider p -> "provider";
            case Item.Model m -> "model";
            case Item.Detector d -> "detector";
            case Item.Label l -> "label";
            case Item.OrgUnit o -> "org unit";
            case Item.Team t -> "team";
            case Item.Channel ch -> "channel";
            case Item.Function fn -> "function";
            case Item.Template t -> "template";
            case Item.Policy p -> "policy";
            case Item.Tests t -> "test suite";
        };
    }

    private Map<String, Setting> settings(List<Setting> list, Set<String> known, String what) {
        Map<String, Setting> out = new LinkedHashMap<>();
        for (Setting s : list) {
            String n = s.name().text();
            if (!known.contains(n) && !(what.equals("model") && n.startsWith(SERVICE_TIER_PREFIX))) {
                diagnostics.add(Diagnostic.error(Code.KG0109, s.name().span(), "unknown " + what + " setting `" + n + "`")
                        .label("not a " + what + " setting")
                        .help(Suggestions.didYouMean(n, known, what + " settings are " + Suggestions.list(new java.util.TreeSet<>(known)))));
                continue;
            }
            Setting first = out.putIfAbsent(n, s);
            if (first != null) {
                diagnostics.add(Diagnostic.error(Code.KG0111, s.name().span(), "`" + n + "` is set twice")
                        .label("first set at " + first.span().location())
                        .help("remove one of them"));
            }
        }
        return out;
    }

    private void checkProviders() {
        for (Item.Provider p : providerDecls.values()) {
            Map<String, Setting> s = settings(p.settings(), PROVIDER_SETTINGS, "provider");
            Map<String, String> extra = new LinkedHashMap<>();
            String kind = null;
            String baseUrl = null;
            String credentialEnv = null;
            Setting builtin = s.get("builtin");
            if (builtin != null) {
                if (!(builtin.value() instanceof Value.Word w) || !w.word().text().equals("simulator")) {
                    diagnostics.add(Diagnostic.error(Code.KG0603, builtin.value().span(), "unknown built-in provider `" + builtin.value().span().text() + "`")
                            .label("the only built-in provider is `simulator`"));
                    continue;
                }
                kind = "simulator";
            }
            Setting kindSetting = s.get("kind");
            if (kindSetting != null) {
                String k = kindSetting.value().span().text();
                if (builtin != null || !(kindSetting.value() instanceof Value.Word) || !(k.equals("openai") || k.equals("anthropic"))) {
                    diagnostics.add(Diagnostic.error(Code.KG0603, kindSetting.value().span(), "invalid provider kind `" + k + "`")
                            .label(builtin != null ? "a built-in provider has no kind" : "expected `openai` or `anthropic`"));
                    continue;
                }
                kind = k;
            }
            Setting url = s.get("base_url");
            if (url != null) {
                if (!(url.value() instanceof Value.Str str) || !(str.lit().value().startsWith("http://") || str.lit().value().startsWith("https://"))) {
                    diagnostics.add(Diagnostic.error(Code.KG0603, url.value().span(), "`base_url` must be an http or https URL in quotes")
                            .label("not a URL"));
                    continue;
                }
                baseUrl = str.lit().value();
                if (!trust.allowsBaseUrl(baseUrl)) {
                    diagnostics.add(Diagnostic.error(Code.KG0607, url.value().span(), "base URL `" + baseUrl + "` is not allowed by the gateway's operator")
                            .label("not an allowed prefix")
                            .help("allowed: " + String.join(", ", trust.baseUrls()) + " (`keyguard serve --allow-base-url`)"));
                    continue;
                }
                if (kind == null) kind = "openai";
            }
            if (kind == null || (!kind.equals("simulator") && baseUrl == null)) {
                diagnostics.add(Diagnostic.error(Code.KG0110, p.name().span(), "provider `" + p.name().text() + "` has no upstream")
                        .label("needs `builtin simulator` or a `base_url`")
                        .help("e.g. `base_url \"https://api.openai.com/v1\"` and `credential env(\"OPENAI_API_KEY\")`"));
                continue;
            }
            Setting cred = s.get("credential");
            if (cred != null) {
                if (cred.value() instanceof Value.Call call && call.function().text().equals("env") && !call.arg().value().isBlank()) {
                    credentialEnv = call.arg().value();
                    if (!trust.allowsCredential(credentialEnv)) {
                        diagnostics.add(Diagnostic.error(Code.KG0606, call.arg().span(), "a credential may not name `" + credentialEnv + "`")
                                .label(credentialEnv.startsWith("KEYGUARD_") && !credentialEnv.startsWith(keyguard.compiler.Trust.PROVIDER_PREFIX)
                                        ? "one of the gateway's own variables" : "not an allowed variable")
                                .help("credentials name " + String.join(", ", trust.credentialEnv())
                                        + " (`keyguard serve --credential-env`), e.g. `env(\"" + keyguard.compiler.Trust.PROVIDER_PREFIX
                                        + p.name().text().toUpperCase(java.util.Locale.ROOT) + "_KEY\")`"));
                        continue;
                    }
                } else {
                    diagnostics.add(Diagnostic.error(Code.KG0602, cred.value().span(), "credentials are read from the environment, never written in a policy file")
                            .label(cred.value() instanceof Value.Str ? "a literal secret" : "expected `env(\"NAME\")`")
                            .help("write `credential env(\"NAME\")` and set NAME where the gateway runs"));
                    continue;
                }
            }
            for (String timed : List.of("latency", "chunk_delay", "timeout")) {
                Setting t = s.get(timed);
                if (t == null) continue;
                if (!(t.value() instanceof Value.Suffixed sx) || millis(sx) < 0) {
                    diagnostics.add(Diagnostic.error(Code.KG0603, t.value().span(), "`" + timed + "` takes a duration such as `20ms` or `2s`, at most a day")
                            .label("not a duration"));
                    continue;
                }
                extra.put(timed, Long.toString(millis(sx)));
            }
            Setting apiVersion = s.get("api_version");
            if (apiVersion != null) extra.put("api_version", apiVersion.value().span().text().replace("\"", ""));
            Setting outputCap = s.get("output_cap");
            if (outputCap != null) {
                String field = outputCap.value().span().text();
                if (!(outputCap.value() instanceof Value.Word) || !(field.equals("max_completion_tokens") || field.equals("max_tokens"))) {
                    diagnostics.add(Diagnostic.error(Code.KG0603, outputCap.value().span(), "`output_cap` is `max_completion_tokens` or `max_tokens`")
                            .label("unknown field")
                            .help("the field an OpenAI-compatible upstream reads its output cap from: `max_completion_tokens` (OpenAI, the default) or `max_tokens` (older servers)"));
                    continue;
                }
                extra.put("output_cap", field);
            }
            providers.put(p.name().text(), new ProviderInfo(p.name().text(), kind, baseUrl, credentialEnv, Map.copyOf(extra), p.span()));
        }
    }

    /** Milliseconds of {@code 20ms}, {@code 2s}, {@code 5m}; -1 for another unit or more than a day. */
    private static long millis(Value.Suffixed s) {
        long unit = switch (s.suffix()) {
            case "ms" -> 1;
            case "s" -> 1000;
            case "m" -> 60_000;
            default -> -1;
        };
        if (unit < 0 || s.amount() > MAX_PROVIDER_MILLIS / unit) return -1;
        return s.amount() * unit;
    }

    private static final long MAX_PROVIDER_MILLIS = 86_400_000L;

    private void checkModels() {
        int index = 0;
        for (Item.Model m : modelDecls.values()) {
            Map<String, Setting> s = settings(m.settings(), MODEL_SETTINGS, "model");
            String name = m.name().text();
            Setting provider = s.get("provider");
            if (provider == null) {
                missing(m, "provider", "e.g. `provider openai`");
                continue;
            }
            String providerName = provider.value().span().text();
            ProviderInfo providerInfo = providers.get(providerName);
            if (providerInfo == null) {
                if (!providerDecls.containsKey(providerName)) {
                    diagnostics.add(Diagnostic.error(Code.KG0102, provider.value().span(), "unknown provider `" + providerName + "`")
                            .label("no provider of this name")
                            .help(Suggestions.didYouMean(providerName, providerDecls.keySet(), "declare it with `provider " + providerName + " { ... }`")));
                }
                continue;
            }
            Setting maxClass = s.get("max_class");
            if (maxClass == null) {
                missing(m, "max_class", "the highest data class this model may receive, e.g. `max_class internal`");
                continue;
            }
            DataClass cls = dataClass(maxClass.value().span().text(), maxClass.value().span());
            if (cls == null) continue;
            long[] prices = prices(m);
            if (prices == null) continue;
            Map<String, Integer> tiers = serviceTiers(m.settings());
            if (tiers == null) continue;
            long context = 0;
            Setting ctx = s.get("context");
            if (ctx != null) {
                context = switch (ctx.value()) {
                    case Value.Num n when n.value().scale() <= 0 && n.value().signum() > 0 -> n.value().longValue();
                    case Value.Suffixed sx when sx.suffix().equals("k") -> sx.amount() * 1000;
                    default -> -1;
                };
                if (context <= 0) {
                    diagnostics.add(Diagnostic.error(Code.KG0604, ctx.value().span(), "`context` must be a positive number of tokens")
                            .label("e.g. `128_000` or `128k`"));
                    continue;
                }
            }
            String hosting = providerInfo.kind().equals("simulator") ? "builtin" : "external";
            Setting host = s.get("hosting");
            if (host != null) {
                hosting = host.value().span().text();
                if (!(host.value() instanceof Value.Word) || !(hosting.equals("external") || hosting.equals("self"))) {
                    diagnostics.add(Diagnostic.error(Code.KG0604, host.value().span(), "`hosting` is `external` or `self`")
                            .label("unknown hosting"));
                    continue;
                }
            }
            String type = ModelInfo.CHAT;
            Setting typeSetting = s.get("type");
            if (typeSetting != null) {
                type = typeSetting.value().span().text();
                if (!(typeSetting.value() instanceof Value.Word) || !(type.equals(ModelInfo.CHAT) || type.equals(ModelInfo.EMBEDDING))) {
                    diagnostics.add(Diagnostic.error(Code.KG0604, typeSetting.value().span(), "`type` is `chat` or `embedding`")
                            .label("unknown model type"));
                    continue;
                }
            }
            String upstream = name;
            Setting up = s.get("upstream");
            if (up != null) {
                if (!(up.value() instanceof Value.Str str)) {
                    diagnostics.add(Diagnostic.error(Code.KG0604, up.value().span(), "`upstream` is the provider's model name, in quotes")
                            .label("expected a string"));
                    continue;
                }
                upstream = str.lit().value();
            }
            boolean acceptsUnscannable = true;
            Setting uns = s.get("unscannable");
            if (uns != null) {
                String w = uns.value().span().text();
                if (!(uns.value() instanceof Value.Word) || !(w.equals("deny") || w.equals("allow"))) {
                    diagnostics.add(Diagnostic.error(Code.KG0604, uns.value().span(), "`unscannable` is `deny` or `allow`")
                            .label("unknown choice")
                            .help("`unscannable deny`: the model never receives images, PDFs or other content the gateway cannot scan, whatever a policy says"));
                    continue;
                }
                acceptsUnscannable = w.equals("allow");
            }
            // Terms left out are billed at a price never below the provider's: cached input at
            // the input price, reasoning at the output price, an Anthropic cache write at 2x input.
            long input = prices[PRICE_INPUT];
            long output = prices[PRICE_OUTPUT];
            long cacheWriteDefault = providerInfo.kind().equals("anthropic") ? Math.multiplyExact(input, 2) : input;
            long cacheWrite = prices[PRICE_CACHE_WRITE] >= 0 ? prices[PRICE_CACHE_WRITE] : cacheWriteDefault;
            Pricing pricing = new Pricing(input, output, cacheWrite,
                    prices[PRICE_CACHE_WRITE_1H] >= 0 ? prices[PRICE_CACHE_WRITE_1H] : Math.max(cacheWrite, Math.multiplyExact(input, 2)),
                    prices[PRICE_CACHE_READ] >= 0 ? prices[PRICE_CACHE_READ] : input,
                    prices[PRICE_REASONING] >= 0 ? prices[PRICE_REASONING] : output,
                    Math.max(0, prices[PRICE_IMAGE]), Math.max(0, prices[PRICE_REQUEST]), Math.max(0, prices[PRICE_WEB_SEARCH]), tiers);
            models.put(name, new ModelInfo(index++, name, providerName, upstream, input, output, context, cls, hosting, type, m.span(),
                    acceptsUnscannable, pricing));
        }
    }

    private void missing(Item.Model m, String setting, String help) {
        diagnostics.add(Diagnostic.error(Code.KG0110, m.name().span(), "model `" + m.name().text() + "` has no `" + setting + "`")
                .label("`" + setting + "` is required").help(help));
    }

    private static final int PRICE_INPUT = 0, PRICE_OUTPUT = 1, PRICE_CACHE_WRITE = 2, PRICE_CACHE_READ = 3, PRICE_REASONING = 4,
            PRICE_IMAGE = 5, PRICE_REQUEST = 6, PRICE_WEB_SEARCH = 7, PRICE_CACHE_WRITE_1H = 8;
    /** Price terms in slot order, and the unit each is priced per. */
    private static final List<String> PRICE_TERMS = List.of("input", "output", "cache_write", "cache_read", "reasoning", "image",
            "request", "web_search", "cache_write_1h");
    private static final List<String> PRICE_UNITS = List.of("tokens", "tokens", "tokens", "tokens", "tokens", "images", "requests",
            "searches", "tokens");

    /**
     * Every declared term in micro-dollars per million units ({@code -1} where not declared),
     * or null with a diagnostic. {@code input} and {@code output} are required.
     */
    private long[] prices(Item.Model m) {
        long[] out = new long[PRICE_TERMS.size()];
        java.util.Arrays.fill(out, -1);
        for (PriceTerm t : m.prices()) {
            String dir = t.direction().text();
            int slot = PRICE_TERMS.indexOf(dir);
            if (slot < 0) {
                priceError(t.direction().span(), "unknown price term `" + dir + "`; the terms are " + Suggestions.list(PRICE_TERMS));
                return null;
            }
            if (!t.currency().text().equals("usd")) {
                priceError(t.currency().span(), "prices are in `usd`, not `" + t.currency().text() + "`");
                return null;
            }
            String unit = PRICE_UNITS.get(slot);
            String singular = unit.substring(0, unit.length() - (unit.equals("searches") ? 2 : 1));
            if (!t.unit().text().equals(unit) && !t.unit().text().equals(singular)) {
                priceError(t.unit().span(), "`" + dir + "` is priced per `" + unit + "`, not `" + t.unit().text() + "`");
                return null;
            }
            long per = switch (t.per()) {
                case "1m" -> 1_000_000;
                case "1k" -> 1_000;
                case "1" -> 1;
                default -> -1;
            };
            if (per < 0 || (per == 1 && unit.equals("tokens"))) {
                priceError(t.perSpan(), unit.equals("tokens") ? "prices are `per 1m tokens` or `per 1k tokens`"
                        : "`" + dir + "` is priced `per 1 " + singular + "`, `per 1k " + unit + "` or `per 1m " + unit + "`");
                return null;
            }
            if (t.amount().signum() < 0) {
                priceError(t.span(), "a price cannot be negative");
                return null;
            }
            BigDecimal perMillion = t.amount().multiply(BigDecimal.valueOf(1_000_000 / per));
            long micros;
            try {
                micros = Money.micros(perMillion);
            } catch (ArithmeticException e) {
                diagnostics.add(Diagnostic.error(Code.KG0008, t.span(), "price `" + t.amountRaw() + "` has more precision than a micro-dollar per million " + unit)
                        .label("at most six decimal places"));
                return null;
            }
            if (out[slot] >= 0) {
                priceError(t.direction().span(), "`" + dir + "` price is given twice");
                return null;
            }
            out[slot] = micros;
        }
        if (out[PRICE_INPUT] < 0 || out[PRICE_OUTPUT] < 0) {
            missing(m, "price", "e.g. `price input 0.15 usd per 1m tokens, output 0.60 usd per 1m tokens`");
            return null;
        }
        if (out[PRICE_CACHE_READ] > out[PRICE_INPUT] || out[PRICE_REASONING] >= 0 && out[PRICE_REASONING] < out[PRICE_OUTPUT]) {
            // Allowed (the provider's price list is the truth), but surprising enough to say.
            for (PriceTerm t : m.prices()) {
                String dir = t.direction().text();
                if (dir.equals("cache_read") && out[PRICE_CACHE_READ] > out[PRICE_INPUT]) {
                    diagnostics.add(Diagnostic.warning(Code.KG0601, t.span(), "cached input is priced above uncached input")
                            .label("providers bill cache reads at a fraction of the input price")
                            .help("check the provider's price list; a cache write is `cache_write`"));
                }
                if (dir.equals("reasoning") && out[PRICE_REASONING] < out[PRICE_OUTPUT]) {
                    diagnostics.add(Diagnostic.warning(Code.KG0601, t.span(), "reasoning is priced below output")
                            .label("providers bill reasoning tokens as output tokens")
                            .help("check the provider's price list; leave `reasoning` out to bill it at the output price"));
                }
            }
        }
        return out;
    }

    /** {@code service_tier_<name> <multiplier>} settings: multipliers in thousandths, or null with a diagnostic. */
    private Map<String, Integer> serviceTiers(List<Setting> settings) {
        Map<String, Integer> tiers = new java.util.TreeMap<>();
        for (Setting st : settings) {
            String n = st.name().text();
            if (!n.startsWith(SERVICE_TIER_PREFIX)) continue;
            String tier = n.substring(SERVICE_TIER_PREFIX.length());
            BigDecimal factor = st.value() instanceof Value.Num num ? num.value() : null;
            if (tier.isEmpty() || tier.length() > 32 || !tier.matches("[a-z][a-z0-9_]*")) {
                diagnostics.add(Diagnostic.error(Code.KG0604, st.name().span(), "`" + n + "` does not name a service tier")
                        .label("expected `service_tier_<tier>`")
                        .help("e.g. `service_tier_priority 2` or `service_tier_flex 0.5`"));
                return null;
            }
            if (factor == null || factor.signum() <= 0 || factor.stripTrailingZeros().scale() > 3 || factor.compareTo(BigDecimal.valueOf(100)) > 0) {
                diagnostics.add(Diagnostic.error(Code.KG0604, st.value().span(), "`" + n + "` is a price multiplier such as `2` or `0.5`")
                        .label("expected a positive number, at most 100, with at most three decimals")
                        .help("every term of the model's price is multiplied by it for a request in the `" + tier + "` tier"));
                return null;
            }
            tiers.put(tier, factor.movePointRight(3).intValueExact());
        }
        return java.util.Collections.unmodifiableMap(tiers);
    }

    private void priceError(Span span, String message) {
        diagnostics.add(Diagnostic.error(Code.KG0601, span, message)
                .label("invalid price")
                .help("write `price input 0.15 usd per 1m tokens, output 0.60 usd per 1m tokens`; optional terms are `cache_write`, `cache_write_1h`, `cache_read`, `reasoning` (per tokens), `image` (per images), `request` (per requests) and `web_search` (per searches)"));
    }

    private static final Set<String> DETECTOR_SETTINGS = Set.of("words", "pattern", "class");

    /** {@code detector "name" { words [...] class C }} or {@code { pattern "RE2" class C }}. */
    private void checkDetectors() {
        for (Item.Detector d : detectorDecls.values()) {
            Map<String, Setting> s = settings(d.settings(), DETECTOR_SETTINGS, "detector");
            String name = d.name().text();
            if (!name.matches("[a-z][a-z0-9_]*")) {
                diagnostics.add(Diagnostic.error(Code.KG0701, d.quoted().span(), "invalid detector name `" + name + "`")
                        .label("lower-case letters, digits and `_`")
                        .help("the name appears in decisions and placeholders, e.g. `[" + name.toUpperCase(java.util.Locale.ROOT) + "_1]`"));
                continue;
            }
            Setting words = s.get("words");
            Setting pattern = s.get("pattern");
            Setting cls = s.get("class");
            if (cls == null || (words == null) == (pattern == null)) {
                diagnostics.add(Diagnostic.error(Code.KG0701, d.name().span(), cls == null ? "detector `" + name + "` has no `class`"
                                : "detector `" + name + "` needs exactly one of `words` and `pattern`")
                        .label("incomplete detector")
                        .help("write `detector \"" + name + "\" { words [\"...\"] class confidential }` or `{ pattern \"...\" class internal }`"));
                continue;
            }
            DataClass dataClass = cls.value() instanceof Value.Word w ? dataClass(w.word().text(), w.span()) : dataClass(cls.value().span().text(), cls.value().span());
            if (dataClass == null) continue;
            if (words != null) {
                List<String> list = new ArrayList<>();
                boolean ok = words.value() instanceof Value.ListV lv && !lv.items().isEmpty();
                if (ok) {
                    for (keyguard.lang.syntax.Expr e : ((Value.ListV) words.value()).items()) {
                        if (e instanceof keyguard.lang.syntax.Expr.Str str && !str.lit().value().isBlank()
                                && Character.isLetterOrDigit(str.lit().value().strip().charAt(0))) {
                            list.add(str.lit().value().strip());
                        } else {
                            ok = false;
                        }
                    }
                }
                if (!ok) {
                    diagnostics.add(Diagnostic.error(Code.KG0701, words.value().span(), "`words` must be a non-empty list of words or phrases in quotes")
                            .label("not a word list")
                            .help("e.g. `words [\"bluebird\", \"night jar\"]`: matched case-insensitively, as whole words"));
                    continue;
                }
                detectors.add(new DetectorSpec(name, List.copyOf(list), null, dataClass, d.span()));
            } else {
                if (!(pattern.value() instanceof Value.Str str)) {
                    diagnostics.add(Diagnostic.error(Code.KG0701, pattern.value().span(), "`pattern` must be a regular expression in quotes")
                            .label("not a string"));
                    continue;
                }
                try {
                    com.google.re2j.Pattern compiled = com.google.re2j.Pattern.compile(str.lit().value());
                    if (compiled.matcher("").matches()) {
                        diagnostics.add(Diagnostic.error(Code.KG0701, str.span(), "the pattern of detector `" + name + "` matches the empty string")
                                .label("would match everywhere")
                                .help("make at least one character required"));
                        continue;
                    }
                    detectors.add(new DetectorSpec(name, List.of(), compiled, dataClass, d.span()));
                } catch (com.google.re2j.PatternSyntaxException ex) {
                    diagnostics.add(Diagnostic.error(Code.KG0404, str.span(), "invalid regular expression: " + ex.getDescription())
                            .label("RE2 syntax")
                            .help("RE2 has no backreferences or lookaround; that is what keeps matching linear"));
                }
            }
        }
    }

    // ------------------------------------------------------------------ alerts

    private static final Set<String> CHANNEL_SETTINGS = Set.of("kind", "url", "secret", "server", "from", "to", "username", "password", "tls");

    /**
     * {@code channel NAME { kind webhook  url "https://..."  secret env("KEYGUARD_CHANNEL_...") }},
     * {@code kind slack  url env("...")}, {@code kind smtp  server "smtp://host:587"  from "..."
     * to ["..."]  [username env(...)  password env(...)]}.
     */
    private void checkChannels() {
        for (Item.Channel ch : channelDecls.values()) {
            String name = ch.name().text();
            Map<String, Setting> s = settings(ch.settings(), CHANNEL_SETTINGS, "channel");
            Setting kindSetting = s.get("kind");
            ChannelSpec.Kind kind = kindSetting != null && kindSetting.value() instanceof Value.Word w ? ChannelSpec.Kind.parse(w.word().text()) : null;
            if (kind == null) {
                channelError(kindSetting == null ? ch.name().span() : kindSetting.value().span(), "channel `" + name + "` needs `kind webhook`, `kind slack` or `kind smtp`",
                        "webhook: a signed JSON POST; slack: a Slack-compatible incoming webhook; smtp: an e-mail");
                continue;
            }
            Set<String> allowed = switch (kind) {
                case WEBHOOK -> Set.of("kind", "url", "secret");
                case SLACK -> Set.of("kind", "url");
                case SMTP -> Set.of("kind", "server", "from", "to", "username", "password", "tls");
            };
            boolean ok = true;
            for (Setting st : s.values()) {
                if (!allowed.contains(st.name().text())) {
                    channelError(st.name().span(), "a " + kind.word() + " channel has no `" + st.name().text() + "`", "its settings are " + Suggestions.list(new java.util.TreeSet<>(allowed)));
                    ok = false;
                }
            }
            if (!ok) continue;
            String url = null, urlEnv = null, secretEnv = null, server = null, from = null, usernameEnv = null, passwordEnv = null;
            boolean tlsOptional = false;
            List<String> to = new ArrayList<>();
            if (kind != ChannelSpec.Kind.SMTP) {
                Setting u = s.get("url");
                if (u == null) {
                    channelError(ch.name().span(), "channel `" + name + "` has no `url`", "e.g. `url \"https://hooks.example.com/keyguard\"`, or `url env(\"KEYGUARD_CHANNEL_SLACK_URL\")` for a URL that is itself a secret");
                    continue;
                }
                if (u.value() instanceof Value.Str str && (str.lit().value().startsWith("https://") || str.lit().value().startsWith("http://"))) {
                    url = str.lit().value();
                } else if ((urlEnv = channelEnv(u.value(), "url")) == null) {
                    continue;
                }
                if (kind == ChannelSpec.Kind.WEBHOOK) {
                    Setting sec = s.get("secret");
                    if (sec == null) {
                        channelError(ch.name().span(), "webhook channel `" + name + "` has no `secret`", "its POSTs are signed with it: `secret env(\"KEYGUARD_CHANNEL_" + name.toUpperCase(java.util.Locale.ROOT) + "_SECRET\")`");
                        continue;
                    }
                    if ((secretEnv = channelEnv(sec.value(), "secret")) == null) continue;
                }
            } else {
                Setting srv = s.get("server");
                Setting f = s.get("from");
                Setting t = s.get("to");
                server = srv != null && srv.value() instanceof Value.Str str ? str.lit().value() : null;
                if (server == null || !server.matches("smtps?://[A-Za-z0-9.-]+(:[0-9]{1,5})?")) {
                    channelError(srv == null ? ch.name().span() : srv.value().span(), "an smtp channel needs `server \"smtp://host:port\"` or `\"smtps://host:port\"`",
                            "smtp:// uses STARTTLS when the server offers it; smtps:// is TLS from the start");
                    continue;
                }
                from = f != null && f.value() instanceof Value.Str str && str.lit().value().matches("[^@\\s]+@[^@\\s]+") ? str.lit().value() : null;
                if (from == null) {
                    channelError(f == null ? ch.name().span() : f.value().span(), "an smtp channel needs `from \"address@example.com\"`", "the sender of its e-mails");
                    continue;
                }
                boolean toOk = t != null && t.value() instanceof Value.ListV lv && !lv.items().isEmpty();
                if (toOk) {
                    for (Expr e : ((Value.ListV) t.value()).items()) {
                        if (e instanceof Expr.Str str && str.lit().value().matches("[^@\\s,]+@[^@\\s,]+")) to.add(str.lit().value());
                        else toOk = false;
                    }
                }
                if (!toOk) {
                    channelError(t == null ? ch.name().span() : t.value().span(), "an smtp channel needs `to [\"address@example.com\", ...]`", "the recipients of its e-mails");
                    continue;
                }
                Setting user = s.get("username");
                Setting pass = s.get("password");
                if ((user == null) != (pass == null)) {
                    channelError(ch.name().span(), "an smtp channel takes `username` and `password` together", "both from the environment, or neither");
                    continue;
                }
                if (user != null && ((usernameEnv = channelEnv(user.value(), "username")) == null || (passwordEnv = channelEnv(pass.value(), "password")) == null)) continue;
                Setting tls = s.get("tls");
                String word = tls == null ? "required" : tls.value() instanceof Value.Word w ? w.word().text() : "";
                if (!word.equals("required") && !word.equals("optional") || (word.equals("optional") && user != null)) {
                    channelError(tls.value().span(), word.equals("optional") ? "an smtp channel with a password requires TLS" : "`tls` is `required` or `optional`",
                            "`tls optional` sends to an smtp:// server that offers no STARTTLS in plain text; never with a password");
                    continue;
                }
                tlsOptional = word.equals("optional");
            }
            channels.put(name, new ChannelSpec(name, kind, url, urlEnv, secretEnv, server, from, to, usernameEnv, passwordEnv, tlsOptional, ch.span()));
        }
    }

    /** The variable a channel's secret setting names: {@code env("KEYGUARD_CHANNEL_...")}; null after an error. */
    private String channelEnv(Value v, String setting) {
        if (v instanceof Value.Call call && call.function().text().equals("env") && call.arg().value().startsWith(ChannelSpec.ENV_PREFIX)
                && call.arg().value().length() > ChannelSpec.ENV_PREFIX.length()) {
            return call.arg().value();
        }
        diagnostics.add(Diagnostic.error(Code.KG0602, v.span(), "a channel's `" + setting + "` is read from the environment, never written in a policy file")
                .label(v instanceof Value.Call ? "not a `" + ChannelSpec.ENV_PREFIX + "*` variable" : "expected `env(\"" + ChannelSpec.ENV_PREFIX + "NAME\")`")
                .help("write `" + setting + " env(\"" + ChannelSpec.ENV_PREFIX + "NAME\")` and set it where the gateway runs; channels read only `" + ChannelSpec.ENV_PREFIX + "*` variables"));
        return null;
    }

    private void channelError(Span span, String message, String help) {
        diagnostics.add(Diagnostic.error(Code.KG0609, span, message).label("invalid channel").help(help));
    }

    /**
     * A limit's or budget's {@code alert} clause into {@code d.alerts} (a statement without
     * one drops what it replaces): {@code at P%, ...} on a budget, {@code after N} on a limit,
     * to a declared channel.
     */
    private void alert(Statement.Alert a, Limit limit, Draft d) {
        d.alerts.remove(limit.id());
        if (a == null) return;
        String channel = a.channel().text();
        if (!channels.containsKey(channel)) {
            diagnostics.add(Diagnostic.error(Code.KG0328, a.channel().span(), "no channel `" + channel + "`")
                    .label("not declared")
                    .help(channels.isEmpty() ? "the operator declares channels in `" + trust.operatorDir() + "/`: `channel ops { kind webhook ... }`"
                            : Suggestions.didYouMean(channel, channels.keySet(), "channels are " + Suggestions.list(new java.util.TreeSet<>(channels.keySet())))));
            return;
        }
        boolean budget = limit instanceof BudgetSpec;
        if (budget != !a.percents().isEmpty() || (!budget && (a.after() == null || !a.after().text().equals("after")))) {
            diagnostics.add(Diagnostic.error(Code.KG0328, a.span(), budget ? "a budget alerts `at` percentages of its amount" : "a limit alerts `after` a number of refusals")
                    .label("invalid alert")
                    .help(budget ? "e.g. `alert " + channel + " at 50%, 80%, 100%`" : "e.g. `alert " + channel + " after 20`: once an hour, when the limit has refused 20 requests in it"));
            return;
        }
        List<Integer> percents = new ArrayList<>();
        for (Expr.Dec p : a.percents()) {
            java.math.BigDecimal v = p.value();
            if (v.scale() > 0 && v.stripTrailingZeros().scale() > 0 || v.signum() <= 0 || v.compareTo(java.math.BigDecimal.valueOf(1000)) > 0
                    || (!percents.isEmpty() && v.intValue() <= percents.getLast())) {
                diagnostics.add(Diagnostic.error(Code.KG0328, p.span(), "alert thresholds are whole percentages from 1% to 1000%, ascending")
                        .label("invalid threshold").help("e.g. `at 50%, 80%, 100%` (beyond 100% for a soft budget)"));
                return;
            }
            percents.add(v.intValue());
        }
        if (percents.size() > 8) {
            diagnostics.add(Diagnostic.error(Code.KG0328, a.span(), "at most 8 alert thresholds").label("too many").help("keep the ones someone acts on"));
            return;
        }
        long after = 0;
        if (!budget) {
            java.math.BigDecimal n = a.count() == null ? null : a.count().number();
            if (n == null || n.signum() <= 0 || n.compareTo(java.math.BigDecimal.valueOf(1_000_000)) > 0) {
                diagnostics.add(Diagnostic.error(Code.KG0328, a.count() == null ? a.span() : a.count().span(), "`after` takes 1 to 1_000_000 refusals")
                        .label("invalid count").help("the refusals in one clock hour that make the limit worth an alert"));
                return;
            }
            after = n.longValue();
        }
        d.alerts.put(limit.id(), new AlertSpec(limit.id(), limit.counter(), channel, percents, after, a.span()));
    }

    // ------------------------------------------------------------------ organisation

    private static final Set<String> TEAM_SETTINGS = Set.of("org", "groups");

    /**
     * {@code org NAME { limits and budgets }} and {@code team NAME { org UNIT  groups [...]
     * limits and budgets }}: the operator's organisation. A unit's or team's limits and
     * budgets are written without {@code by}; they count every request of its keys, on
     * {@code by org} and {@code by team} counters.
     */
    private void checkOrg() {
        if (unitDecls.isEmpty() && teamDecls.isEmpty()) return;
        Map<String, keyguard.policy.OrgChart.Unit> units = new LinkedHashMap<>();
        for (Item.OrgUnit u : unitDecls.values()) {
            if (!orgName(u.name())) continue;
            settings(u.settings(), Set.of(), "org unit");
            OrgLimits limits = orgLimits(u.body(), Scope.ORG, "org " + u.name().text());
            if (limits != null) units.put(u.name().text(), new keyguard.policy.OrgChart.Unit(u.name().text(), limits.limits(), limits.alerts(), u.span()));
        }
        Map<String, keyguard.policy.OrgChart.Team> teams = new LinkedHashMap<>();
        Map<String, String> teamByGroup = new LinkedHashMap<>();
        Map<String, Span> groupSpans = new HashMap<>();
        for (Item.Team t : teamDecls.values()) {
            if (!orgName(t.name())) continue;
            String name = t.name().text();
            Map<String, Setting> s = settings(t.settings(), TEAM_SETTINGS, "team");
            keyguard.policy.OrgChart.Unit unit = null;
            Setting unitSetting = s.get("org");
            if (unitSetting != null) {
                String unitName = unitSetting.value() instanceof Value.Word w ? w.word().text() : null;
                unit = unitName == null ? null : units.get(unitName);
                if (unit == null) {
                    orgError(unitSetting.value().span(), "team `" + name + "` names no declared org unit `" + unitSetting.value().span().text() + "`",
                            unitDecls.isEmpty() ? "declare it: `org " + (unitName == null ? "engineering" : unitName) + " { ... }`"
                                    : Suggestions.didYouMean(unitSetting.value().span().text(), unitDecls.keySet(), "org units are "
                                    + Suggestions.list(new java.util.TreeSet<>(unitDecls.keySet()))));
                    continue;
                }
            }
            List<String> groups = new ArrayList<>();
            Setting groupSetting = s.get("groups");
            if (groupSetting != null) {
                boolean ok = groupSetting.value() instanceof Value.ListV lv && !lv.items().isEmpty();
                if (ok) {
                    for (Expr e : ((Value.ListV) groupSetting.value()).items()) {
                        String g = e instanceof Expr.Str str ? str.lit().value() : "";
                        if (g.isBlank() || g.length() > 256 || !g.equals(g.strip())) {
                            ok = false;
                            break;
                        }
                        String folded = keyguard.policy.OrgChart.foldGroup(g);
                        String had = teamByGroup.putIfAbsent(folded, name);
                        if (had != null) {
                            diagnostics.add(Diagnostic.error(Code.KG0326, e.span(), "group `" + g + "` belongs to two teams, `" + had + "` and `" + name + "`")
                                    .label("first given to `" + had + "` at " + groupSpans.get(folded).location())
                                    .help("a key owned by a group must belong to one team: give the group to one of them"));
                        }
                        groupSpans.putIfAbsent(folded, e.span());
                        groups.add(g);
                    }
                }
                if (!ok) {
                    orgError(groupSetting.value().span(), "`groups` must be a non-empty list of identity-provider group names",
                            "e.g. `groups [\"search-eng\", \"search-oncall\"]`: non-empty strings without spaces at either end");
                    continue;
                }
            }
            OrgLimits limits = orgLimits(t.body(), Scope.TEAM, "team " + name);
            if (limits != null) teams.put(name, new keyguard.policy.OrgChart.Team(name, unit, groups, limits.limits(), limits.alerts(), t.span()));
        }
        org = new keyguard.policy.OrgChart(teams, units, teamByGroup);
    }

    /** Team and unit names become counter names and spend groups: the shape of a label's name. */
    private boolean orgName(Name n) {
        if (n.text().matches("[a-z][a-z0-9_-]{0,63}")) return true;
        orgError(n.span(), "invalid name `" + n.text() + "`", "lower-case letters, digits, `_` and `-`, starting with a letter, at most 64");
        return false;
    }

    private record OrgLimits(List<Limit> limits, List<AlertSpec> alerts) {}

    /** A unit's or team's limits and budgets, on its own counters ({@code scope}), and their alerts; null after an error. */
    private OrgLimits orgLimits(List<Statement> body, Scope scope, String origin) {
        Draft d = new Draft();
        long errors = diagnostics.errorCount();
        for (Statement st : body) {
            Name by = switch (st) {
                case Statement.Limit l -> l.scope();
                case Statement.Budget b -> b.scope();
                default -> null;
            };
            if (!(st instanceof Statement.Limit || st instanceof Statement.Budget) || (st instanceof Statement.Limit l && l.metric().text().equals("max_tokens"))) {
                orgError(st.span(), "an " + (scope == Scope.ORG ? "org unit" : "team") + " holds only `limit` and `budget` lines",
                        "models, data rules and conditions belong to the policies of the team's keys");
                continue;
            }
            if (by != null) {
                orgError(by.span(), "`by " + by.text() + "` in " + origin,
                        "a " + (scope == Scope.ORG ? "unit's" : "team's") + " limits count all its keys together: remove `by " + by.text() + "`");
                continue;
            }
            if (st instanceof Statement.Limit l) limit(l, Map.of(), d, origin);
            else budget((Statement.Budget) st, Map.of(), d, origin);
        }
        if (diagnostics.errorCount() > errors) return null;
        List<Limit> out = new ArrayList<>();
        List<AlertSpec> alerts = new ArrayList<>();
        for (LimitSpec l : d.limits.values()) {
            CounterRef ref = new CounterRef(l.counter().metric(), scope, l.counter().window(), l.counter().windowSeconds());
            out.add(new LimitSpec(LimitSpec.idOf(ref), ref, l.amount(), origin, l.span(), l.failOpen()));
            AlertSpec a = d.alerts.get(l.id());
            if (a != null) alerts.add(new AlertSpec(LimitSpec.idOf(ref), ref, a.channel(), a.percents(), a.after(), a.span()));
        }
        for (BudgetSpec b : d.budgets.values()) {
            CounterRef ref = CounterRef.spend(scope, Period.parse(b.counter().window()));
            String id = BudgetSpec.idOf(scope, Period.parse(b.counter().window()));
            out.add(new BudgetSpec(id, ref, b.amount(), b.hard(), b.warnPercent(), origin, b.span()));
            AlertSpec a = d.alerts.get(b.id());
            if (a != null) alerts.add(new AlertSpec(id, ref, a.channel(), a.percents(), a.after(), a.span()));
        }
        return new OrgLimits(out, alerts);
    }

    private void orgError(Span span, String message, String help) {
        diagnostics.add(Diagnostic.error(Code.KG0326, span, message).label("invalid organisation").help(help));
    }

    /** A {@code by team} or {@code by org} counter with no team or unit declared would refuse every request: said at once. */
    private void organisationalScopesHaveAnOrganisation(Map<String, Policy> policies) {
        for (Policy p : policies.values()) {
            List<Limit> all = new ArrayList<>(p.rateLimits());
            all.addAll(p.concurrency());
            all.addAll(p.budgets());
            for (Limit l : all) {
                Scope scope = l.counter().scope();
                boolean missing = scope == Scope.TEAM ? org.teams().isEmpty()
                        : scope == Scope.ORG && org.teams().values().stream().noneMatch(t -> t.unit() != null);
                if (!missing) continue;
                diagnostics.add(Diagnostic.warning(Code.KG0326, l.span(), "`" + l.id() + "` counts by " + scope.word()
                                + ", but the organisation declares no " + (scope == Scope.TEAM ? "team" : "team in an org unit"))
                        .label("every request of policy `" + p.name() + "` is refused: its keys belong to no " + (scope == Scope.TEAM ? "team" : "org unit"))
                        .help("the operator declares teams in `" + trust.operatorDir() + "/`: `team search { org engineering  groups [\"search-eng\"] }`"));
            }
        }
    }

    private static final Set<String> LABEL_SETTINGS = Set.of("set_by", "values");

    /** {@code label env { set_by operator|team  values ["prod", ...] }}. */
    private void checkLabels() {
        for (Item.Label l : labelDecls.values()) {
            Map<String, Setting> s = settings(l.settings(), LABEL_SETTINGS, "label");
            String name = l.name().text();
            if (!name.matches("[a-z][a-z0-9_]*") || Set.of("id", "name", "owner", "labels").contains(name)) {
                labelError(l.name().span(), "invalid label name `" + name + "`", "lower-case letters, digits and `_`, not a key field (`id`, `name`, `owner`, `labels`)");
                continue;
            }
            Setting setBy = s.get("set_by");
            boolean team;
            if (setBy == null) {
                labelError(l.name().span(), "label `" + name + "` does not say who may set it", "add `set_by operator` (admins only) or `set_by team`");
                continue;
            } else if (setBy.value() instanceof Value.Word w && w.word().text().equals("operator")) {
                team = false;
            } else if (setBy.value() instanceof Value.Word w && w.word().text().equals("team")) {
                team = true;
            } else {
                labelError(setBy.value().span(), "`set_by` is `operator` or `team`, not `" + setBy.value().span().text() + "`",
                        "`operator`: only admins set it; `team`: team admins of the key's policy may too");
                continue;
            }
            List<String> values = new ArrayList<>();
            Setting vs = s.get("values");
            if (vs != null) {
                boolean ok = vs.value() instanceof Value.ListV lv && !lv.items().isEmpty();
                if (ok) {
                    for (Expr e : ((Value.ListV) vs.value()).items()) {
                        if (e instanceof Expr.Str str && !str.lit().value().isEmpty()) values.add(str.lit().value());
                        else ok = false;
                    }
                }
                if (!ok) {
                    labelError(vs.value().span(), "`values` must be a non-empty list of strings", "e.g. `values [\"prod\", \"staging\", \"dev\"]`");
                    continue;
                }
            }
            labels.put(name, new keyguard.policy.LabelSpec(name, team, values, l.span()));
        }
    }

    private void labelError(Span span, String message, String help) {
        diagnostics.add(Diagnostic.error(Code.KG0608, span, message).label("invalid label declaration").help(help));
    }

    private DataClass dataClass(String word, Span span) {
        DataClass c = DataClass.parse(word);
        if (c == null) {
            List<String> words = new ArrayList<>();
            for (DataClass d : DataClass.values()) words.add(d.word());
            diagnostics.add(Diagnostic.error(Code.KG0307, span, "unknown data class `" + word + "`")
                    .label("not a data class")
                    .help(Suggestions.didYouMean(word, words, "data classes are " + Suggestions.list(words))));
        }
        return c;
    }

    // ------------------------------------------------------------------ templates

    private void checkTemplates() {
        for (Item.Template t : templates.values()) {
            Set<String> seen = new LinkedHashSet<>();
            for (Item.Param p : t.params()) {
                if (!seen.add(p.name().text())) {
                    diagnostics.add(Diagnostic.error(Code.KG0205, p.name().span(), "parameter `" + p.name().text() + "` is declared twice")
                            .label("duplicate parameter"));
                }
                Type type = paramType(p.type());
                if (type != null && p.defaultValue() != null) {
                    Ir v = new ExprChecker(diagnostics, Map.of(), functionScope).check(p.defaultValue());
                    if (v != null && !(v instanceof Ir.Const)) {
                        diagnostics.add(Diagnostic.error(Code.KG0204, p.defaultValue().span(), "default of `" + p.name().text() + "` is not a constant")
                                .label("must be known when the policy compiles"));
                    } else if (v != null && v.type() != type) {
                        diagnostics.add(Diagnostic.error(Code.KG0203, p.defaultValue().span(),
                                        "default of `" + p.name().text() + "` is " + ExprChecker.article(v.type()) + ", not " + ExprChecker.article(type))
                                .label("parameter type is `" + p.type().text() + "`"));
                    }
                }
            }
        }
    }

    /**
     * A template no policy uses is still checked, with each parameter bound to its default
     * or to a placeholder of its type, so its mistakes surface before the first policy uses it.
     */
    private void checkUnusedTemplates() {
        Set<String> used = new java.util.HashSet<>();
        for (Item.Policy p : policyDecls.values()) if (p.base() != null) used.add(p.base().text());
        templates:
        for (Item.Template t : templates.values()) {
            if (used.contains(t.name().text())) continue;
            Map<String, Ir.Const> args = new HashMap<>();
            for (Item.Param param : t.params()) {
                Type type = PARAM_TYPES.contains(param.type().text()) ? paramType(param.type()) : null;
                if (type == null) continue templates; // already reported by checkTemplates
                Ir.Const placeholder = switch (type) {
                    case INT -> new Ir.Const(Type.INT, 1L);
                    case BOOL -> Ir.Const.FALSE;
                    case CLASS -> new Ir.Const(Type.CLASS, 0);
                    default -> new Ir.Const(Type.STRING, "");
                };
                if (param.defaultValue() != null && new ExprChecker(new Diagnostics(), Map.of(), functionScope).check(param.defaultValue()) instanceof Ir.Const c
                        && c.type() == type) {
                    placeholder = c;
                }
                args.put(param.name().text(), placeholder);
            }
            body(t.body(), args, new Draft(), t.name().text(), false);
        }
    }

    private Type paramType(Name type) {
        return switch (type.text()) {
            case "string" -> Type.STRING;
            case "int" -> Type.INT;
            case "bool" -> Type.BOOL;
            case "class" -> Type.CLASS;
            default -> {
                diagnostics.add(Diagnostic.error(Code.KG0206, type.span(), "unknown parameter type `" + type.text() + "`")
                        .label("not a type")
                        .help(Suggestions.didYouMean(type.text(), PARAM_TYPES, "types are `string`, `int`, `bool` and `class`")));
                yield null;
            }
        };
    }

    // ------------------------------------------------------------------ policies

    /** What a body builds up; the template's draft is extended by the child's statements. */
    private static final class Draft {
        final Map<String, String> tags = new LinkedHashMap<>();
        final Map<String, Span> tagSpans = new HashMap<>();
        final List<String> models = new ArrayList<>();
        Span modelsSpan;
        String modelsOrigin;
        final Map<String, LimitSpec> limits = new LinkedHashMap<>();
        final Map<String, BudgetSpec> budgets = new LinkedHashMap<>();
        DataRule data;
        ZoneId zone;
        Span zoneSpan;
        long defaultMaxTokens;
        Span defaultMaxTokensSpan;
        boolean allowOnFunctionError;
        boolean allowUnscannable;
        Span unscannableSpan;
        String unscannableOrigin;
        String defaultMaxTokensOrigin;
        long maxTokensLimit;
        boolean clampMaxTokens;
        Span maxTokensLimitSpan;
        String maxTokensLimitOrigin;
        final java.util.Set<String> allowedParams = new java.util.TreeSet<>();
        Span paramsSpan;
        String paramsOrigin;
        final Map<String, keyguard.policy.TagRule> requestTags = new LinkedHashMap<>();
        keyguard.policy.EndUsers endUsers;
        /** The alert of each limit and budget that has one, by id. */
        final Map<String, AlertSpec> alerts = new LinkedHashMap<>();
        keyguard.policy.Delegation delegation;
        Span delegationSpan;
        String delegationOrigin;
        Span endUsersSpan;
        String endUsersOrigin;
        Span requestTagsSpan;
        String requestTagsOrigin;
        final Map<String, ForbidRule> forbids = new LinkedHashMap<>();
        /** Ids defined by the body being checked now, to tell "defined twice" from "inherited". */
        final Set<String> local = new java.util.HashSet<>();
        int costNodes;
    }

    private Policy resolvePolicy(Item.Policy p) {
        Draft draft = new Draft();
        String templateName = null;
        int errorsBefore = (int) diagnostics.errorCount();
        if (p.base() != null) {
            Item.Template t = templates.get(p.base().text());
            if (t == null) {
                diagnostics.add(Diagnostic.error(Code.KG0104, p.base().span(), "unknown template `" + p.base().text() + "`")
                        .label("no template of this name")
                        .help(Suggestions.didYouMean(p.base().text(), templates.keySet(),
                                policyDecls.containsKey(p.base().text()) ? "`" + p.base().text() + "` is a policy; only templates can be extended"
                                        : "declare it with `template " + p.base().text() + "(...) { ... }`")));
                return null;
            }
            Map<String, Ir.Const> args = arguments(p, t);
            if (args == null) return null;
            templateName = t.name().text();
            body(t.body(), args, draft, templateName, false);
            draft.local.clear();
        }
        body(p.body(), Map.of(), draft, p.name().text(), p.base() != null);
        if (draft.maxTokensLimit > 0 && draft.defaultMaxTokens > draft.maxTokensLimit) {
            diagnostics.add(Diagnostic.error(Code.KG0324, draft.defaultMaxTokensSpan,
                            "`default max_tokens " + underscored(draft.defaultMaxTokens) + "` is above `limit max_tokens "
                                    + underscored(draft.maxTokensLimit) + "`")
                    .label("a request that sends no `max_tokens` would ask for more than the limit")
                    .help("lower the default to at most " + underscored(draft.maxTokensLimit)));
        }
        if (diagnostics.errorCount() > errorsBefore) return null;
        unpricedParams(draft, p);

        boolean[] allowed = new boolean[models.size()];
        for (String m : draft.models) allowed[models.get(m).index()] = true;
        List<LimitSpec> rates = new ArrayList<>();
        List<LimitSpec> concurrency = new ArrayList<>();
        for (LimitSpec l : draft.limits.values()) (l.counter().metric() == Metric.CONCURRENT ? concurrency : rates).add(l);
        CounterRef perKey = CounterRef.concurrent(Scope.KEY);
        if (concurrency.stream().noneMatch(l -> l.counter().equals(perKey))) {
            // No key may hold more than this many requests in flight unless its policy says so:
            // one key must never be able to take all of a gateway's capacity. A safety net, not a
            // promise: in a fleet without Redis it keeps admitting on what the node knows (fail open).
            concurrency.add(new LimitSpec(LimitSpec.idOf(perKey), perKey, Policy.DEFAULT_KEY_CONCURRENCY, "default", p.span(), true));
        }
        rates.sort(Comparator.comparing(LimitSpec::id));
        concurrency.sort(Comparator.comparing(LimitSpec::id));
        List<BudgetSpec> budgets = new ArrayList<>(draft.budgets.values());
        budgets.sort(Comparator.comparing(BudgetSpec::id));
        List<ForbidRule> forbids = new ArrayList<>(draft.forbids.values());
        forbids.sort(Comparator.comparing(ForbidRule::id));
        long cost = 4L + draft.costNodes + rates.size() + concurrency.size() + budgets.size();
        for (String tag : draft.requestTags.keySet()) {
            if (draft.tags.containsKey(tag)) {
                diagnostics.add(Diagnostic.error(Code.KG0325, draft.requestTagsSpan, "request tag `" + tag + "` is one of the policy's own audit tags")
                        .label("`tags { " + tag + ": ... }` sets it")
                        .help("a caller must not set what the policy sets; name the request tag differently"));
            }
        }
        return new Policy(p.name().text(), templateName, java.util.Collections.unmodifiableMap(new LinkedHashMap<>(draft.tags)),
                List.copyOf(draft.models), allowed, List.copyOf(rates), List.copyOf(concurrency), List.copyOf(budgets),
                draft.data == null ? DataRule.UNRESTRICTED : draft.data, List.copyOf(forbids),
                draft.zone == null ? ZoneOffset.UTC : draft.zone, p.span(), cost, draft.defaultMaxTokens, draft.allowOnFunctionError,
                draft.allowUnscannable, draft.maxTokensLimit, draft.clampMaxTokens, java.util.Set.copyOf(draft.allowedParams),
                java.util.Collections.unmodifiableMap(new LinkedHashMap<>(draft.requestTags)),
                draft.endUsers == null ? keyguard.policy.EndUsers.DEFAULT : draft.endUsers,
                draft.alerts.values().stream().sorted(Comparator.comparing(AlertSpec::limitId)).toList(), draft.delegation);
    }

    private Map<String, Ir.Const> arguments(Item.Policy p, Item.Template t) {
        Map<String, Item.Param> params = new LinkedHashMap<>();
        for (Item.Param param : t.params()) params.putIfAbsent(param.name().text(), param);
        Map<String, Ir.Const> out = new HashMap<>();
        boolean ok = true;
        for (Item.Arg a : p.args()) {
            Item.Param param = params.get(a.name().text());
            if (param == null) {
                diagnostics.add(Diagnostic.error(Code.KG0202, a.name().span(), "template `" + t.name().text() + "` has no parameter `" + a.name().text() + "`")
                        .label("unknown argument")
                        .help(Suggestions.didYouMean(a.name().text(), params.keySet(),
                                params.isEmpty() ? "this template takes no arguments" : "parameters are " + Suggestions.list(params.keySet()))));
                ok = false;
                continue;
            }
            Ir v = new ExprChecker(diagnostics, Map.of(), functionScope).check(a.value());
            if (v == null) {
                ok = false;
                continue;
            }
            if (!(v instanceof Ir.Const c)) {
                diagnostics.add(Diagnostic.error(Code.KG0204, a.value().span(), "argument `" + a.name().text() + "` is not a constant")
                        .label("must be known when the policy compiles")
                        .help("pass a literal such as `\"search\"` or `600`"));
                ok = false;
                continue;
            }
            Type type = paramType(param.type());
            if (type != null && c.type() != type) {
                diagnostics.add(Diagnostic.error(Code.KG0203, a.value().span(),
                                "argument `" + a.name().text() + "` is " + ExprChecker.article(c.type()) + ", but the parameter is `" + param.type().text() + "`")
                        .label("expected " + ExprChecker.article(type))
                        .help("declared at " + param.span().location()));
                ok = false;
                continue;
            }
            out.put(a.name().text(), c);
        }
        for (Item.Param param : params.values()) {
            if (out.containsKey(param.name().text()) || !ok) continue;
            if (param.defaultValue() != null) {
                Ir v = new ExprChecker(new Diagnostics(), Map.of(), functionScope).check(param.defaultValue());
                if (v instanceof Ir.Const c) out.put(param.name().text(), c);
            } else {
                diagnostics.add(Diagnostic.error(Code.KG0201, p.base().span(),
                                "template `" + t.name().text() + "` needs argument `" + param.name().text() + "`")
                        .label("missing `" + param.name().text() + ": " + param.type().text() + "`")
                        .help("write `" + p.base().text() + "(" + param.name().text() + ": ...)`"));
                ok = false;
            }
        }
        return ok ? out : null;
    }

    private void body(List<Statement> body, Map<String, Ir.Const> params, Draft d, String origin, boolean child) {
        for (Statement s : body) {
            switch (s) {
                case Statement.Tags t -> tags(t, params, d, origin);
                case Statement.Models m -> models(m, d, origin, child);
                case Statement.Limit l -> limit(l, params, d, origin);
                case Statement.Budget b -> budget(b, params, d, origin);
                case Statement.Data dt -> data(dt, params, d, origin);
                case Statement.Zone z -> zone(z, d);
                case Statement.Default df -> defaultSetting(df, params, d, origin);
                case Statement.On o -> onStatement(o, d, origin);
                case Statement.Params pa -> params(pa, d, origin);
                case Statement.RequestTags rt -> requestTags(rt, d, origin);
                case Statement.EndUsers eu -> endUsers(eu, params, d, origin);
                case Statement.Delegate dg -> delegate(dg, params, d, origin);
                case Statement.Forbid f -> forbid(f, params, d, origin);
            }
        }
    }

    private void tags(Statement.Tags t, Map<String, Ir.Const> params, Draft d, String origin) {
        for (MapEntry e : t.entries()) {
            Ir v = new ExprChecker(diagnostics, params, functionScope).check(e.value());
            if (v == null) continue;
            if (!(v instanceof Ir.Const c) || c.type() == Type.MAP) {
                diagnostics.add(Diagnostic.error(Code.KG0204, e.value().span(), "tag values must be constants")
                        .label("not known when the policy compiles"));
                continue;
            }
            Span first = d.tagSpans.get(e.key());
            if (first != null) {
                diagnostics.add(Diagnostic.error(Code.KG0311, e.keySpan(), "tag `" + e.key() + "` is set twice")
                        .label("first set at " + first.location())
                        .help("to vary a tag per policy, make it a template parameter"));
                continue;
            }
            d.tagSpans.put(e.key(), e.keySpan());
            d.tags.put(e.key(), keyguard.policy.ir.IrInterpreter.display(c, c.value()));
        }
    }

    private void models(Statement.Models m, Draft d, String origin, boolean child) {
        if (!m.verb().text().equals("allow")) {
            diagnostics.add(Diagnostic.error(Code.KG0321, m.verb().span(), "unknown word `" + m.verb().text() + "` after `models`")
                    .label("expected `allow`")
                    .help("models are listed with `models allow [\"name\", ...]`; anything not listed is denied"));
            return;
        }
        boolean inherited = child && d.modelsSpan != null && !d.local.contains("models");
        if (m.add() && !inherited) {
            diagnostics.add(Diagnostic.error(Code.KG0309, m.span(), "`models allow +=` adds to an inherited list, and there is none")
                    .label("nothing to add to")
                    .help("write `models allow [...]`"));
            return;
        }
        if (!m.add()) {
            if (d.local.contains("models")) {
                diagnostics.add(Diagnostic.error(Code.KG0310, m.span(), "`models allow` is written twice")
                        .label("first at " + d.modelsSpan.location())
                        .help("list all models in one statement"));
                return;
            }
            if (inherited && !m.override()) {
                diagnostics.add(Diagnostic.error(Code.KG0312, m.span(), "`models allow` replaces the list inherited from `" + d.modelsOrigin + "`")
                        .label("inherited at " + d.modelsSpan.location())
                        .help("write `models allow += [...]` to add, or `override models allow [...]` to replace"));
                return;
            }
            if (m.override() && !inherited) {
                nothingToOverride(m.span(), "models allow");
                return;
            }
            d.models.clear();
        }
        for (Expr e : m.models()) {
            if (!(e instanceof Expr.Str s)) {
                diagnostics.add(Diagnostic.error(Code.KG0309, e.span(), "model names are strings in quotes")
                        .label("not a string"));
                continue;
            }
            String name = s.lit().value();
            if (!models.containsKey(name)) {
                unknownModel(s.span(), name);
                continue;
            }
            if (!d.models.contains(name)) d.models.add(name);
        }
        d.local.add("models");
        d.modelsSpan = m.span();
        d.modelsOrigin = origin;
    }

    void unknownModel(Span span, String name) {
        unknownModel(diagnostics, models, modelDecls.keySet(), span, name);
    }

    static void unknownModel(Diagnostics diagnostics, Map<String, ModelInfo> models, Set<String> declared, Span span, String name) {
        if (declared.contains(name)) return; // declared but invalid: already reported
        diagnostics.add(Diagnostic.error(Code.KG0103, span, "unknown model `" + name + "`")
                .label("no model of this name")
                .help(Suggestions.didYouMean(name, models.keySet(), "declare it with `model \"" + name + "\" { ... }` in models.kgp")));
    }

    private void nothingToOverride(Span span, String what) {
        diagnostics.add(Diagnostic.error(Code.KG0313, span, "`override " + what + "` has nothing to override")
                .label("not inherited")
                .help("remove `override`"));
    }

    private long amount(Quantity q, Map<String, Ir.Const> params, boolean money) {
        BigDecimal value;
        if (q.isParameter()) {
            Ir.Const c = params.get(q.parameter().text());
            if (c == null) {
                diagnostics.add(Diagnostic.error(Code.KG0106, q.span(), "unknown name `" + q.raw() + "`")
                        .label("not a parameter")
                        .help(Suggestions.didYouMean(q.raw(), params.keySet(), "an amount is a number or an `int` parameter")));
                return -1;
            }
            if (c.type() != Type.INT) {
                diagnostics.add(Diagnostic.error(Code.KG0203, q.span(), "parameter `" + q.raw() + "` is " + ExprChecker.article(c.type()) + ", not an integer")
                        .label("amounts are numbers"));
                return -1;
            }
            value = BigDecimal.valueOf((Long) c.value());
        } else {
            value = q.number();
        }
        if (value.signum() <= 0) {
            diagnostics.add(Diagnostic.error(Code.KG0305, q.span(), "amount must be positive, not `" + q.raw() + "`")
                    .label("not positive")
                    .help(money ? "to forbid all spend, remove the models from `models allow`" : "to block all traffic, remove the models from `models allow`"));
            return -1;
        }
        if (money) {
            try {
                return Money.micros(value);
            } catch (ArithmeticException e) {
                diagnostics.add(Diagnostic.error(Code.KG0305, q.span(), "budget `" + q.raw() + "` has more than six decimal places")
                        .label("budgets are kept in micro-dollars"));
                return -1;
            }
        }
        if (value.scale() > 0 && value.stripTrailingZeros().scale() > 0) {
            diagnostics.add(Diagnostic.error(Code.KG0305, q.span(), "limit `" + q.raw() + "` is not a whole number").label("limits count whole requests and tokens"));
            return -1;
        }
        return value.longValue();
    }

    private void limit(Statement.Limit l, Map<String, Ir.Const> params, Draft d, String origin) {
        if (l.metric().text().equals("max_tokens")) {
            maxTokensLimit(l, params, d, origin);
            return;
        }
        if (l.mode() != null) {
            diagnostics.add(Diagnostic.error(Code.KG0321, l.mode().span(), "unexpected `" + l.mode().text() + "` after `limit " + l.metric().text() + "`")
                    .label("only `limit max_tokens` ends with `refuse` or `clamp`")
                    .help("remove it"));
            return;
        }
        Metric metric = Metric.parse(l.metric().text());
        if (metric == null || metric == Metric.SPEND) {
            diagnostics.add(Diagnostic.error(Code.KG0301, l.metric().span(), "unknown limit `" + l.metric().text() + "`")
                    .label("not a metric")
                    .help(metric == Metric.SPEND ? "money is limited with `budget`"
                            : Suggestions.didYouMean(l.metric().text(), List.of("requests", "tokens", "concurrent"),
                            "limits count `requests`, `tokens` or `concurrent`")));
            return;
        }
        Scope scope = scope(l.scope());
        if (scope == null && l.scope() != null) return;
        if (scope == null) scope = Scope.KEY;
        long amount = amount(l.amount(), params, false);
        if (amount < 0) return;
        CounterRef ref;
        if (metric == Metric.CONCURRENT) {
            if (l.window() != null) {
                diagnostics.add(Diagnostic.error(Code.KG0304, l.window().span(), "`limit concurrent` takes no window")
                        .label("concurrency counts requests in flight, not per period")
                        .help("remove `per " + l.window().text() + "`"));
                return;
            }
            ref = CounterRef.concurrent(scope);
        } else {
            if (l.window() == null) {
                diagnostics.add(Diagnostic.error(Code.KG0304, l.span(), "`limit " + metric.word() + "` needs a window")
                        .label("per what?")
                        .help("add `per 1m`, `per 1h` or `per 1d`"));
                return;
            }
            long seconds = Durations.parseSeconds(l.window().text());
            if (seconds <= 0 || seconds > MAX_WINDOW_SECONDS) {
                diagnostics.add(Diagnostic.error(Code.KG0302, l.window().span(), "invalid window `" + l.window().text() + "`")
                        .label(seconds > MAX_WINDOW_SECONDS ? "longer than 31 days" : "expected a number with `s`, `m`, `h`, `d` or `w`")
                        .help(seconds > MAX_WINDOW_SECONDS ? "for spend over longer periods use a `budget ... per month`"
                                : "e.g. `per 30s`, `per 1m`, `per 1h`, `per 1d`"));
                return;
            }
            ref = CounterRef.rate(metric, scope, seconds);
        }
        boolean failOpen = false;
        if (l.failMode() != null) {
            switch (l.failMode().text()) {
                case "open" -> failOpen = true;
                case "closed" -> failOpen = false;
                default -> {
                    diagnostics.add(Diagnostic.error(Code.KG0321, l.failMode().span(), "`fail` is `open` or `closed`, not `" + l.failMode().text() + "`")
                            .label("unknown failure mode")
                            .help("`fail open`: when a fleet's Redis cannot be reached, keep admitting on what this node knows; `fail closed` (the default): refuse once the node's slice is spent"));
                    return;
                }
            }
        }
        String id = LimitSpec.idOf(ref);
        LimitSpec spec = new LimitSpec(id, ref, amount, origin, l.span(), failOpen);
        LimitSpec inherited = d.limits.get(id);
        if (inheritance(id, l.override(), inherited == null ? null : inherited.span(), inherited == null ? null : inherited.origin(),
                l.span(), d, "limit " + metric.word() + (ref.window().isEmpty() ? "" : " per " + ref.window()) + " by " + scope.word(),
                inherited == null ? "" : "inherited as " + underscored(inherited.amount()) + " from `" + inherited.origin() + "`")) {
            if (inherited != null && amount > inherited.amount()) {
                diagnostics.add(Diagnostic.warning(Code.KG0314, l.amount().span(),
                                "override raises `" + id + "` from " + underscored(inherited.amount()) + " to " + underscored(amount))
                        .label("looser than the template")
                        .help("intended? templates encode the platform defaults"));
            }
            d.limits.put(id, spec);
            alert(l.alert(), spec, d);
            d.local.add(id);
        }
    }

    /** Shared override rules; true when the statement may take effect. */
    private boolean inheritance(String id, boolean override, Span inheritedSpan, String inheritedOrigin, Span span, Draft d,
                                String what, String inheritedLabel) {
        if (d.local.contains(id)) {
            diagnostics.add(Diagnostic.error(Code.KG0310, span, "`" + what + "` is defined twice")
                    .label("first defined at " + inheritedSpan.location())
                    .help("remove one of them"));
            return false;
        }
        if (inheritedSpan != null && !override) {
            diagnostics.add(Diagnostic.error(Code.KG0312, span, "`" + what + "` redefines an inherited setting")
                    .label(inheritedLabel)
                    .help("write `override` before it to replace it, or remove this line"));
            return false;
        }
        if (inheritedSpan == null && override) {
            nothingToOverride(span, what);
            return false;
        }
        return true;
    }

    private Scope scope(Name n) {
        if (n == null) return null;
        Scope s = Scope.parse(n.text());
        if (s == null) {
            diagnostics.add(Diagnostic.error(Code.KG0303, n.span(), "unknown scope `" + n.text() + "`")
                    .label("expected `key`, `policy`, `team`, `org` or `user`")
                    .help(Suggestions.didYouMean(n.text(), List.of("key", "policy", "team", "org", "user"),
                            "`by key` gives each key its own counter; `by policy` shares one among all keys of the policy;"
                                    + " `by team` and `by org` one among all keys of the key's team or org unit; `by user` one per end user of each key")));
        }
        return s;
    }

    private void budget(Statement.Budget b, Map<String, Ir.Const> params, Draft d, String origin) {
        if (!b.currency().text().equals("usd")) {
            budgetError(b.currency().span(), "budgets are in `usd`, not `" + b.currency().text() + "`",
                    "costs are computed from model prices in usd; write `budget " + b.amount().raw() + " usd per ...`");
            return;
        }
        Period period = Period.parse(b.period().text());
        if (period == null) {
            budgetError(b.period().span(), "budget period `" + b.period().text() + "` is not `day`, `week` or `month`",
                    Suggestions.didYouMean(b.period().text(), List.of("day", "week", "month"), "budgets reset on calendar periods"));
            return;
        }
        boolean hard = true;
        if (b.kind() != null) {
            switch (b.kind().text()) {
                case "hard" -> hard = true;
                case "soft" -> hard = false;
                default -> {
                    budgetError(b.kind().span(), "a budget is `hard` or `soft`, not `" + b.kind().text() + "`",
                            "`hard` rejects requests past the cap; `soft` allows them and warns");
                    return;
                }
            }
        }
        int warn = 0;
        if (b.warnPercent() != null) {
            BigDecimal pct = b.warnPercent().value();
            if (pct.scale() > 0 && pct.stripTrailingZeros().scale() > 0 || pct.signum() <= 0 || pct.compareTo(BigDecimal.valueOf(100)) > 0) {
                budgetError(b.warnPercent().span(), "`warn at` takes a whole percentage from 1% to 100%", "e.g. `warn at 80%`");
                return;
            }
            warn = pct.intValue();
        }
        Scope scope = scope(b.scope());
        if (scope == null && b.scope() != null) return;
        if (scope == null) scope = Scope.KEY;
        long micros = amount(b.amount(), params, true);
        if (micros < 0) return;
        String id = BudgetSpec.idOf(scope, period);
        BudgetSpec spec = new BudgetSpec(id, CounterRef.spend(scope, period), micros, hard, warn, origin, b.span());
        BudgetSpec inherited = d.budgets.get(id);
        if (inheritance(id, b.override(), inherited == null ? null : inherited.span(), inherited == null ? null : inherited.origin(),
                b.span(), d, "budget per " + period.word() + " by " + scope.word(),
                inherited == null ? "" : "inherited as " + Money.format(inherited.amount()) + " usd from `" + inherited.origin() + "`")) {
            if (inherited != null && (micros > inherited.amount() || (inherited.hard() && !hard))) {
                diagnostics.add(Diagnostic.warning(Code.KG0314, b.span(), "override loosens `" + id + "`")
                        .label(micros > inherited.amount() ? "raises the cap from " + Money.format(inherited.amount()) + " usd"
                                : "turns a hard cap soft")
                        .help("intended? templates encode the platform defaults"));
            }
            d.budgets.put(id, spec);
            alert(b.alert(), spec, d);
            d.local.add(id);
        }
    }

    private void budgetError(Span span, String message, String help) {
        diagnostics.add(Diagnostic.error(Code.KG0306, span, message)
                .label("invalid budget")
                .help(help));
    }

    private void data(Statement.Data s, Map<String, Ir.Const> params, Draft d, String origin) {
        if (!s.level().text().equals("max")) {
            diagnostics.add(Diagnostic.error(Code.KG0321, s.level().span(), "unknown word `" + s.level().text() + "` after `data`")
                    .label("expected `max`")
                    .help("write `data max <class> on violation deny|redact|reroute \"<model>\"`"));
            return;
        }
        Ir.Const param = params.get(s.dataClass().text());
        DataClass cls;
        if (param != null && param.type() == Type.CLASS) {
            cls = DataClass.values()[(Integer) param.value()];
        } else if (param != null) {
            diagnostics.add(Diagnostic.error(Code.KG0203, s.dataClass().span(), "parameter `" + s.dataClass().text() + "` is "
                    + ExprChecker.article(param.type()) + ", not a data class").label("declare it as `" + s.dataClass().text() + ": class`"));
            return;
        } else {
            cls = dataClass(s.dataClass().text(), s.dataClass().span());
        }
        if (cls == null) return;
        DataAction action = DataAction.DENY;
        ModelInfo target = null;
        if (s.violation() != null) {
            if (!s.violation().text().equals("violation")) {
                diagnostics.add(Diagnostic.error(Code.KG0321, s.violation().span(), "unknown word `" + s.violation().text() + "` after `on`")
                        .label("expected `violation`"));
                return;
            }
            switch (s.action().text()) {
                case "deny" -> action = DataAction.DENY;
                case "redact" -> action = DataAction.REDACT;
                case "reroute" -> action = DataAction.REROUTE;
                default -> {
                    diagnostics.add(Diagnostic.error(Code.KG0308, s.action().span(), "unknown action `" + s.action().text() + "`")
                            .label("expected `deny`, `redact` or `reroute \"<model>\"`")
                            .help(Suggestions.didYouMean(s.action().text(), List.of("deny", "redact", "reroute"), "")));
                    return;
                }
            }
            if (action == DataAction.REROUTE) {
                if (s.target() == null) {
                    diagnostics.add(Diagnostic.error(Code.KG0308, s.action().span(), "`reroute` needs a model")
                            .label("reroute where?")
                            .help("write `reroute \"<model>\"` with a model whose `max_class` can take the data"));
                    return;
                }
                target = models.get(s.target().value());
                if (target == null) {
                    unknownModel(s.target().span(), s.target().value());
                    return;
                }
                if (target.maxClass().compareTo(cls) <= 0) {
                    diagnostics.add(Diagnostic.warning(Code.KG0320, s.target().span(),
                                    "`" + target.name() + "` takes at most `" + target.maxClass().word() + "` data, so rerouting above `" + cls.word() + "` never helps")
                            .label("max_class " + target.maxClass().word())
                            .help("reroute to a model with a higher `max_class`, e.g. a self-hosted one"));
                }
            } else if (s.target() != null) {
                diagnostics.add(Diagnostic.error(Code.KG0308, s.target().span(), "only `reroute` takes a model")
                        .label("unexpected model"));
                return;
            }
        }
        DataRule inherited = d.data;
        DataRule rule = new DataRule(cls, action, target, origin, s.span());
        if (inheritance("data", s.override(), inherited == null ? null : inherited.span(), inherited == null ? null : inherited.origin(),
                s.span(), d, "data max", inherited == null ? "" : "inherited as `" + inherited.max().word() + "` from `" + inherited.origin() + "`")) {
            if (inherited != null && cls.compareTo(inherited.max()) > 0) {
                diagnostics.add(Diagnostic.warning(Code.KG0314, s.dataClass().span(),
                                "override raises the data ceiling from `" + inherited.max().word() + "` to `" + cls.word() + "`")
                        .label("looser than the template")
                        .help("intended? templates encode the platform defaults"));
            }
            d.data = rule;
            d.local.add("data");
        }
    }

    /**
     * {@code on error deny|allow} (what a rule does when its function fails) and
     * {@code on unscannable deny|allow} (whether content the gateway cannot read counts as
     * {@code restricted}); the second is inherited and overridden like a data rule.
     */
    /** {@code limit max_tokens N [refuse|clamp]}: the largest output cap a request may ask for. */
    private void maxTokensLimit(Statement.Limit l, Map<String, Ir.Const> params, Draft d, String origin) {
        Name extra = l.window() != null ? l.window() : l.scope() != null ? l.scope() : l.failMode();
        if (extra != null) {
            diagnostics.add(Diagnostic.error(Code.KG0324, extra.span(), "`limit max_tokens` takes no window, scope or failure mode")
                    .label("a cap on each request, not a counter")
                    .help("write `limit max_tokens 4096` or `limit max_tokens 4096 clamp`"));
            return;
        }
        boolean clamp = false;
        if (l.mode() != null) {
            switch (l.mode().text()) {
                case "clamp" -> clamp = true;
                case "refuse" -> clamp = false;
                default -> {
                    diagnostics.add(Diagnostic.error(Code.KG0324, l.mode().span(), "`limit max_tokens` ends with `refuse` or `clamp`, not `" + l.mode().text() + "`")
                            .label("unknown action")
                            .help(Suggestions.didYouMean(l.mode().text(), List.of("refuse", "clamp"),
                                    "`refuse` (the default) answers 400 to a request asking for more; `clamp` lowers its cap to the limit")));
                    return;
                }
            }
        }
        long amount = amount(l.amount(), params, false);
        if (amount < 0) return;
        String id = "limit.max_tokens";
        if (inheritance(id, l.override(), d.maxTokensLimitSpan, d.maxTokensLimitOrigin, l.span(), d, "limit max_tokens",
                d.maxTokensLimitSpan == null ? "" : "inherited as " + underscored(d.maxTokensLimit) + " from `" + d.maxTokensLimitOrigin + "`")) {
            if (d.maxTokensLimitSpan != null && amount > d.maxTokensLimit) {
                diagnostics.add(Diagnostic.warning(Code.KG0314, l.amount().span(),
                                "override raises `limit max_tokens` from " + underscored(d.maxTokensLimit) + " to " + underscored(amount))
                        .label("looser than the template")
                        .help("intended? templates encode the platform defaults"));
            }
            d.maxTokensLimit = amount;
            d.clampMaxTokens = clamp;
            d.maxTokensLimitSpan = l.span();
            d.maxTokensLimitOrigin = origin;
            d.local.add(id);
        }
    }

    /** {@code allow params ["service_tier", ...]}: price-changing parameters allowed although unpriced. */
    private void params(Statement.Params pa, Draft d, String origin) {
        String id = "allow.params";
        if (!inheritance(id, pa.override(), d.paramsSpan, d.paramsOrigin, pa.span(), d, "allow params",
                d.paramsSpan == null ? "" : "inherited as " + d.allowedParams + " from `" + d.paramsOrigin + "`")) {
            return;
        }
        java.util.Set<String> had = new java.util.TreeSet<>(d.allowedParams);
        d.allowedParams.clear();
        for (Expr e : pa.params()) {
            if (!(e instanceof Expr.Str str) || !keyguard.policy.PricedParams.ALL.contains(str.lit().value())) {
                String got = e instanceof Expr.Str str ? str.lit().value() : e.span().text();
                diagnostics.add(Diagnostic.error(Code.KG0322, e.span(), "unknown request parameter `" + got + "`")
                        .label("not a parameter that changes the price")
                        .help(Suggestions.didYouMean(got, keyguard.policy.PricedParams.ALL,
                                "the parameters are " + Suggestions.list(keyguard.policy.PricedParams.ALL) + ", in quotes")));
                continue;
            }
            d.allowedParams.add(str.lit().value());
        }
        if (d.paramsSpan != null && !had.containsAll(d.allowedParams)) {
            diagnostics.add(Diagnostic.warning(Code.KG0314, pa.span(), "override allows more parameters than the template")
                    .label("the template allows " + had)
                    .help("intended? these parameters change what the provider bills"));
        }
        d.paramsSpan = pa.span();
        d.paramsOrigin = origin;
        d.local.add(id);
    }

    /** The longest request tag name and value the gateway accepts. */
    public static final int MAX_TAG_NAME = 64;
    public static final int MAX_TAG_VALUE = 128;

    /**
     * {@code allow tags { name [required|optional] [in ["v", ...]] ... }}: the request tags a
     * policy accepts. Names are letters, digits, {@code _}, {@code .} and {@code -}; values
     * are non-empty strings without {@code ,} or {@code =} (the header's separators); a name
     * the policy's own audit tags use is refused (a caller must not set the policy's tags).
     */
    /** {@code delegate max N [depth D]}: keys of the policy may mint sub-keys (depth 1 when not said). */
    private void delegate(Statement.Delegate dg, Map<String, Ir.Const> params, Draft d, String origin) {
        String id = "delegate";
        if (!inheritance(id, dg.override(), d.delegationSpan, d.delegationOrigin, dg.span(), d, "delegate",
                d.delegationSpan == null ? "" : "inherited from `" + d.delegationOrigin + "`")) {
            return;
        }
        if (!dg.maxWord().text().equals("max") || (dg.depthWord() != null && !dg.depthWord().text().equals("depth"))) {
            Name bad = !dg.maxWord().text().equals("max") ? dg.maxWord() : dg.depthWord();
            delegateError(bad.span(), "unexpected `" + bad.text() + "` in `delegate`", "write `delegate max N depth D`: at most N active sub-keys per key, D levels deep");
            return;
        }
        long max = amount(dg.max(), params, false);
        long depth = dg.depth() == null ? 1 : amount(dg.depth(), params, false);
        if (max < 0 || depth < 0) return;
        if (max > keyguard.policy.Delegation.MAX_CHILDREN || depth > keyguard.policy.Delegation.MAX_DEPTH) {
            delegateError(dg.span(), "`delegate` takes at most " + underscored(keyguard.policy.Delegation.MAX_CHILDREN) + " sub-keys per key and "
                    + keyguard.policy.Delegation.MAX_DEPTH + " levels", "sub-keys are for an agent's sub-tasks, not a second key hierarchy");
            return;
        }
        keyguard.policy.Delegation had = d.delegation;
        d.delegation = new keyguard.policy.Delegation((int) max, (int) depth);
        if (dg.override() && had != null && (max > had.maxChildren() || depth > had.maxDepth())) {
            diagnostics.add(Diagnostic.warning(Code.KG0314, dg.span(), "override lets keys delegate more than the template")
                    .label("the template's: max " + had.maxChildren() + " depth " + had.maxDepth())
                    .help("intended? templates encode the platform defaults"));
        }
        d.delegationSpan = dg.span();
        d.delegationOrigin = origin;
        d.local.add(id);
    }

    private void delegateError(Span span, String message, String help) {
        diagnostics.add(Diagnostic.error(Code.KG0329, span, message).label("invalid delegation").help(help));
    }

    private static final Set<String> END_USERS_SETTINGS = Set.of("from", "max", "overflow");

    /** {@code end_users { from ["user", "metadata", "header"]  max N  overflow shared|refuse }}; what is not said keeps the default. */
    private void endUsers(Statement.EndUsers eu, Map<String, Ir.Const> params, Draft d, String origin) {
        String id = "end_users";
        if (!inheritance(id, eu.override(), d.endUsersSpan, d.endUsersOrigin, eu.span(), d, "end_users",
                d.endUsersSpan == null ? "" : "inherited from `" + d.endUsersOrigin + "`")) {
            return;
        }
        Map<String, Setting> s = settings(eu.settings(), END_USERS_SETTINGS, "end_users");
        keyguard.policy.EndUsers had = d.endUsers == null ? keyguard.policy.EndUsers.DEFAULT : d.endUsers;
        List<keyguard.policy.EndUsers.Source> sources = had.sources();
        Setting from = s.get("from");
        if (from != null) {
            List<keyguard.policy.EndUsers.Source> list = new ArrayList<>();
            boolean ok = from.value() instanceof Value.ListV lv && !lv.items().isEmpty();
            if (ok) {
                for (Expr e : ((Value.ListV) from.value()).items()) {
                    keyguard.policy.EndUsers.Source src = e instanceof Expr.Str str ? keyguard.policy.EndUsers.Source.parse(str.lit().value()) : null;
                    if (src == null || list.contains(src)) ok = false;
                    else list.add(src);
                }
            }
            if (!ok) {
                endUsersError(from.value().span(), "`from` lists where a request names its end user: \"user\", \"metadata\", \"header\", each once",
                        "\"user\": OpenAI's `user` field; \"metadata\": `metadata.user_id` (Anthropic's); \"header\": `x-keyguard-user`; e.g. `from [\"header\"]` to trust only your own front end");
                return;
            }
            sources = list;
        }
        int max = had.max();
        Setting m = s.get("max");
        if (m != null) {
            java.math.BigDecimal v = m.value() instanceof Value.Num n ? n.value() : null;
            if (v == null || v.scale() > 0 && v.stripTrailingZeros().scale() > 0 || v.signum() <= 0
                    || v.compareTo(java.math.BigDecimal.valueOf(keyguard.policy.EndUsers.MAX_USERS)) > 0) {
                endUsersError(m.value().span(), "`max` is a whole number of end users from 1 to " + underscored(keyguard.policy.EndUsers.MAX_USERS),
                        "the distinct end users one key may track at once, e.g. `max 10_000`");
                return;
            }
            max = v.intValue();
        }
        boolean shared = had.overflowShared();
        Setting o = s.get("overflow");
        if (o != null) {
            String w = o.value() instanceof Value.Word word ? word.word().text() : "";
            if (!w.equals("shared") && !w.equals("refuse")) {
                endUsersError(o.value().span(), "`overflow` is `shared` or `refuse`, not `" + o.value().span().text() + "`",
                        "`shared`: end users beyond `max` share one set of counters; `refuse`: they are refused until one of the tracked ones is idle");
                return;
            }
            shared = w.equals("shared");
        }
        d.endUsers = new keyguard.policy.EndUsers(sources, max, shared);
        d.endUsersSpan = eu.span();
        d.endUsersOrigin = origin;
        d.local.add(id);
    }

    private void endUsersError(Span span, String message, String help) {
        diagnostics.add(Diagnostic.error(Code.KG0327, span, message).label("invalid end_users").help(help));
    }

    private void requestTags(Statement.RequestTags rt, Draft d, String origin) {
        String id = "allow.tags";
        if (!inheritance(id, rt.override(), d.requestTagsSpan, d.requestTagsOrigin, rt.span(), d, "allow tags",
                d.requestTagsSpan == null ? "" : "inherited as " + d.requestTags.keySet() + " from `" + d.requestTagsOrigin + "`")) {
            return;
        }
        Map<String, keyguard.policy.TagRule> had = new LinkedHashMap<>(d.requestTags);
        d.requestTags.clear();
        if (rt.tags().isEmpty()) {
            diagnostics.add(Diagnostic.error(Code.KG0325, rt.span(), "`allow tags` declares no tag")
                    .label("an empty declaration")
                    .help("list the tags a request may carry, or remove the statement (a policy without `allow tags` judges no tags)"));
        }
        for (Statement.RequestTag t : rt.tags()) {
            if (!t.quoted() && (t.key().equals("required") || t.key().equals("optional"))) {
                diagnostics.add(Diagnostic.error(Code.KG0325, t.keySpan(), "a request tag named `" + t.key() + "`")
                        .label("read as a tag's name")
                        .help("`required` and `optional` come right after the name: `project " + t.key() + " in [...]`; quote it to mean a tag of that name"));
                continue;
            }
            if (!t.key().matches("[A-Za-z0-9_.-]{1," + MAX_TAG_NAME + "}")) {
                diagnostics.add(Diagnostic.error(Code.KG0325, t.keySpan(), "invalid request tag name `" + t.key() + "`")
                        .label("not a tag name")
                        .help("tag names are letters, digits, `_`, `.` and `-`, at most " + MAX_TAG_NAME + "; quote one with `-`: \"cost-centre\""));
                continue;
            }
            if (d.requestTags.containsKey(t.key())) {
                diagnostics.add(Diagnostic.error(Code.KG0310, t.keySpan(), "request tag `" + t.key() + "` is declared twice")
                        .label("declared again here").help("remove one of them"));
                continue;
            }
            boolean required = false;
            if (t.presence() != null) {
                switch (t.presence().text()) {
                    case "required" -> required = true;
                    case "optional" -> { }
                    default -> {
                        diagnostics.add(Diagnostic.error(Code.KG0325, t.presence().span(), "unknown word `" + t.presence().text() + "` after request tag `" + t.key() + "`")
                                .label("expected `required` or `optional`")
                                .help(Suggestions.didYouMean(t.presence().text(), List.of("required", "optional"), "write `" + t.key() + " required` or `" + t.key() + " in [\"a\", \"b\"]`")));
                        continue;
                    }
                }
            }
            List<String> values = new ArrayList<>();
            boolean bad = false;
            for (Expr e : t.values()) {
                String v = e instanceof Expr.Str str ? str.lit().value() : null;
                if (v == null || v.isEmpty() || v.length() > MAX_TAG_VALUE || v.contains(",") || v.contains("=") || !v.strip().equals(v)
                        || v.chars().anyMatch(c -> Character.isISOControl(c) || Character.getType(c) == Character.FORMAT || c == 0x2028 || c == 0x2029)) {
                    diagnostics.add(Diagnostic.error(Code.KG0325, e.span(), "invalid value " + e.span().text() + " of request tag `" + t.key() + "`")
                            .label("not a tag value")
                            .help("values are non-empty strings of at most " + MAX_TAG_VALUE + " characters without `,`, `=`, control characters or spaces at either end"));
                    bad = true;
                } else if (!values.contains(v)) {
                    values.add(v);
                }
            }
            if (!bad) d.requestTags.put(t.key(), new keyguard.policy.TagRule(t.key(), required, values));
        }
        if (rt.override() && widens(had, d.requestTags)) {
            diagnostics.add(Diagnostic.warning(Code.KG0314, rt.span(), "override accepts more request tags than the template")
                    .label("the template's: " + had.values())
                    .help("intended? a tag the template required, or a value it did not list, now passes"));
        }
        d.requestTagsSpan = rt.span();
        d.requestTagsOrigin = origin;
        d.local.add(id);
    }

    /**
     * A request tag must not share its name with any policy's audit tag: spend groups both
     * alike ({@code tag:team}), so a caller of one policy naming a tag {@code team} would
     * book its spend under another policy's team.
     */
    private void requestTagsAreNoAuditTags(Map<String, Policy> policies) {
        Map<String, String> auditTags = new LinkedHashMap<>();
        for (Policy p : policies.values()) for (String t : p.tags().keySet()) auditTags.putIfAbsent(t, p.name());
        for (Policy p : policies.values()) {
            for (String t : p.requestTags().keySet()) {
                String owner = auditTags.get(t);
                if (owner == null || owner.equals(p.name())) continue; // the policy's own: reported where it is resolved
                diagnostics.add(Diagnostic.error(Code.KG0325, p.span(), "request tag `" + t + "` of policy `" + p.name() + "` is an audit tag of policy `" + owner + "`")
                        .label("callers could book spend under `" + owner + "`'s `" + t + "`")
                        .help("name the request tag differently; audit tags are the policies' to set"));
            }
        }
    }

    /** Whether {@code now} accepts a request {@code before} refused: a new name, a required tag made optional, a value list widened. */
    private static boolean widens(Map<String, keyguard.policy.TagRule> before, Map<String, keyguard.policy.TagRule> now) {
        for (keyguard.policy.TagRule r : now.values()) {
            keyguard.policy.TagRule b = before.get(r.name());
            if (b == null) return true;
            if (!b.values().isEmpty() && (r.values().isEmpty() || !b.values().containsAll(r.values()))) return true;
        }
        for (keyguard.policy.TagRule b : before.values()) {
            keyguard.policy.TagRule r = now.get(b.name());
            if (b.required() && (r == null || !r.required())) return true;
        }
        return false;
    }

    /** KG0323 for each allowed parameter that an allowed model cannot count. */
    private void unpricedParams(Draft d, Item.Policy p) {
        for (String param : d.allowedParams) {
            List<String> unpriced = new ArrayList<>();
            for (String m : d.models) {
                ModelInfo model = models.get(m);
                if (model != null && !keyguard.policy.PricedParams.priced(param, model)) unpriced.add(m);
            }
            boolean tier = param.equals(keyguard.policy.PricedParams.SERVICE_TIER);
            if (unpriced.isEmpty() && tier) {
                // A caller may name a tier no model declares: it is then charged at the model's highest declared multiplier.
                diagnostics.add(Diagnostic.warning(Code.KG0323, d.paramsSpan, "`service_tier` is allowed: a tier a model does not declare is charged at its highest declared multiplier")
                        .label("callers choose the tier")
                        .help("declare `service_tier_<tier> <multiplier>` on the models for every tier callers may use"));
                continue;
            }
            if (unpriced.isEmpty()) continue;
            diagnostics.add(Diagnostic.warning(Code.KG0323, d.paramsSpan, "`" + param + "` is allowed, but "
                            + (unpriced.size() == d.models.size() ? "no allowed model prices it" : "model `" + unpriced.get(0) + "` does not price it"))
                    .label("its extra cost is not counted against budgets")
                    .help(param.equals(keyguard.policy.PricedParams.SERVICE_TIER) ? "declare `service_tier_<tier> <multiplier>` on the model"
                            : param.equals(keyguard.policy.PricedParams.WEB_SEARCH) ? "declare `price web_search <usd> usd per 1k searches` on the model"
                            : "no price term can express it; allow it only where budgets need not be exact"));
        }
    }

    private void onStatement(Statement.On o, Draft d, String origin) {
        String event = o.event().text();
        if (!event.equals("error") && !event.equals("unscannable")) {
            diagnostics.add(Diagnostic.error(Code.KG0804, o.event().span(), "unknown event `" + event + "`")
                    .label("the events are `error` and `unscannable`")
                    .help(Suggestions.didYouMean(event, List.of("error", "unscannable"), "write `on error deny|allow` or `on unscannable deny|allow`")));
            return;
        }
        boolean allow;
        switch (o.action().text()) {
            case "deny" -> allow = false;
            case "allow" -> allow = true;
            default -> {
                diagnostics.add(Diagnostic.error(Code.KG0804, o.action().span(), "`on " + event + "` takes `deny` or `allow`, not `" + o.action().text() + "`")
                        .label("unknown action")
                        .help(Suggestions.didYouMean(o.action().text(), List.of("deny", "allow"), event.equals("error")
                                ? "`deny` makes the rule fire, `allow` makes it not fire"
                                : "`deny` treats unscannable content as `restricted`, `allow` forwards it unscanned")));
                return;
            }
        }
        if (event.equals("error")) {
            d.allowOnFunctionError = allow;
            return;
        }
        String id = "on.unscannable";
        if (inheritance(id, o.override(), d.unscannableSpan, d.unscannableOrigin, o.span(), d, "on unscannable",
                d.unscannableSpan == null ? "" : "inherited as `" + (d.allowUnscannable ? "allow" : "deny") + "` from `" + d.unscannableOrigin + "`")) {
            if (d.unscannableSpan != null && allow && !d.allowUnscannable) {
                diagnostics.add(Diagnostic.warning(Code.KG0314, o.action().span(), "override lets unscannable content through")
                        .label("the template denies it")
                        .help("intended? images and documents then reach models without a scan"));
            }
            d.allowUnscannable = allow;
            d.unscannableSpan = o.span();
            d.unscannableOrigin = origin;
            d.local.add(id);
        }
    }

    private void defaultSetting(Statement.Default df, Map<String, Ir.Const> params, Draft d, String origin) {
        if (!df.setting().text().equals("max_tokens")) {
            diagnostics.add(Diagnostic.error(Code.KG0109, df.setting().span(), "unknown default `" + df.setting().text() + "`")
                    .label("not a request setting with a default")
                    .help(Suggestions.didYouMean(df.setting().text(), List.of("max_tokens"),
                            "a policy can set `default max_tokens N`")));
            return;
        }
        long amount = amount(df.amount(), params, false);
        if (amount < 0) return;
        String id = "default.max_tokens";
        if (inheritance(id, df.override(), d.defaultMaxTokensSpan, d.defaultMaxTokensOrigin, df.span(), d, "default max_tokens",
                d.defaultMaxTokensSpan == null ? "" : "inherited as " + underscored(d.defaultMaxTokens) + " from `" + d.defaultMaxTokensOrigin + "`")) {
            d.defaultMaxTokens = amount;
            d.defaultMaxTokensSpan = df.span();
            d.defaultMaxTokensOrigin = origin;
            d.local.add(id);
        }
    }

    private void zone(Statement.Zone z, Draft d) {
        ZoneId zone;
        try {
            zone = ZoneId.of(z.zone().value());
        } catch (DateTimeException e) {
            diagnostics.add(Diagnostic.error(Code.KG0318, z.zone().span(), "unknown time zone `" + z.zone().value() + "`")
                    .label("not an IANA zone id")
                    .help(Suggestions.didYouMean(z.zone().value(), ZoneId.getAvailableZoneIds(), "e.g. `\"UTC\"`, `\"Europe/Berlin\"`, `\"America/New_York\"`")));
            return;
        }
        if (d.zoneSpan != null) {
            diagnostics.add(Diagnostic.error(d.local.contains("zone") ? Code.KG0310 : Code.KG0312, z.span(), "`zone` is already set")
                    .label("set at " + d.zoneSpan.location())
                    .help(d.local.contains("zone") ? "remove one of them" : "make the zone a template parameter to vary it"));
            return;
        }
        d.zone = zone.normalized() instanceof ZoneOffset o && o.getTotalSeconds() == 0 ? ZoneOffset.UTC : zone;
        d.zoneSpan = z.span();
        d.local.add("zone");
    }

    private void forbid(Statement.Forbid f, Map<String, Ir.Const> params, Draft d, String origin) {
        String id = null;
        Annotation reasonAnn = null;
        for (Annotation a : f.annotations()) {
            switch (a.name().text()) {
                case "id" -> id = a.value().value();
                case "reason" -> reasonAnn = a;
                default -> diagnostics.add(Diagnostic.error(Code.KG0317, a.name().span(), "unknown annotation `@" + a.name().text() + "`")
                        .label("not an annotation")
                        .help(Suggestions.didYouMean(a.name().text(), List.of("id", "reason"), "rules take `@id(\"...\")` and `@reason(\"...\")`")));
            }
        }
        if (id == null || id.isBlank()) {
            diagnostics.add(Diagnostic.error(Code.KG0316, f.span(), "`forbid` rule has no `@id`")
                    .label("decisions, tests and audit events name rules by id")
                    .help("add `@id(\"short-stable-name\")` on the line above"));
            return;
        }
        ExprChecker ec = new ExprChecker(diagnostics, params, functionScope).labels(labels);
        Ir when = ec.condition(f.when());
        Ir unless = f.unless() == null ? null : ec.condition(f.unless());
        ReasonTemplate reason = reasonAnn == null ? ReasonTemplate.EMPTY : reason(reasonAnn, params);
        if (when == null || (f.unless() != null && unless == null) || reason == null) return;
        if (when instanceof Ir.Const c && !ec.usedParameter) {
            boolean always = (Boolean) c.value();
            diagnostics.add(Diagnostic.warning(Code.KG0409, f.when().span(), "condition is always " + always)
                    .label(always ? "this rule forbids every request" : "this rule can never fire")
                    .help(always ? "to deny everything, allow no models" : "remove the rule or fix the condition"));
        }
        if (unless instanceof Ir.Const c && (Boolean) c.value()) when = Ir.Const.FALSE;
        if (unless instanceof Ir.Const) unless = null;
        ForbidRule existing = d.forbids.get(id);
        if (existing != null) {
            diagnostics.add(Diagnostic.error(Code.KG0315, f.span(), "rule id `" + id + "` is used twice")
                    .label("first used at " + existing.span().location() + (existing.origin().equals(origin) ? "" : " in `" + existing.origin() + "`"))
                    .help("ids must be unique within a policy, including rules from its template"));
            return;
        }
        d.costNodes += size(when) + (unless == null ? 0 : size(unless));
        d.forbids.put(id, new ForbidRule(id, reason, when, unless, origin, f.span(), f.when().span()));
    }

    private ReasonTemplate reason(Annotation a, Map<String, Ir.Const> params) {
        String raw = a.value().raw();
        List<Object> parts = new ArrayList<>();
        StringBuilder text = new StringBuilder();
        int base = a.value().span().start() + 1;
        for (int i = 0; i < raw.length(); i++) {
            char c = raw.charAt(i);
            if (c == '\\' && i + 1 < raw.length()) {
                char n = raw.charAt(++i);
                text.append(switch (n) {
                    case 'n' -> '\n';
                    case 't' -> '\t';
                    default -> n;
                });
            } else if (c == '{') {
                int close = raw.indexOf('}', i);
                if (close < 0) return reasonError(new Span(a.value().span().file(), base + i, base + i + 1), "`{` is never closed");
                String path = raw.substring(i + 1, close).trim();
                int pathStart = base + i + 1;
                if (path.isEmpty() || !path.matches("[A-Za-z_][A-Za-z_0-9]*(\\.[A-Za-z_0-9]+)*")) {
                    return reasonError(new Span(a.value().span().file(), base + i, base + close + 1), "`{" + path + "}` is not a field path");
                }
                List<Name> segments = new ArrayList<>();
                int offset = pathStart + raw.substring(i + 1, close).indexOf(path);
                for (String seg : path.split("\\.")) {
                    segments.add(new Name(seg, new Span(a.value().span().file(), offset, offset + seg.length())));
                    offset += seg.length() + 1;
                }
                Span pathSpan = new Span(a.value().span().file(), segments.get(0).span().start(), offset - 1);
                Ir ir = new ExprChecker(diagnostics, params, functionScope).labels(labels).check(new Expr.Path(List.copyOf(segments), pathSpan));
                if (ir == null) return null;
                if (ir.type() == Type.MAP) return reasonError(pathSpan, "`{" + path + "}` is a map; interpolate one entry");
                if (!text.isEmpty()) parts.add(text.toString());
                text.setLength(0);
                if (ir instanceof Ir.Const k) parts.add(keyguard.policy.ir.IrInterpreter.display(k, k.value()));
                else parts.add(ir);
                i = close;
            } else if (c == '}') {
                return reasonError(new Span(a.value().span().file(), base + i, base + i + 1), "`}` without `{`");
            } else {
                text.append(c);
            }
        }
        if (!text.isEmpty()) parts.add(text.toString());
        return new ReasonTemplate(List.copyOf(parts));
    }

    private ReasonTemplate reasonError(Span span, String message) {
        diagnostics.add(Diagnostic.error(Code.KG0319, span, message)
                .label("in this reason")
                .help("interpolate fields as `{request.model}`; write `\\{` for a literal brace"));
        return null;
    }

    static int size(Ir ir) {
        return switch (ir) {
            case Ir.Const c -> 1;
            case Ir.Read r -> 1;
            case Ir.Usage u -> 1;
            case Ir.Lookup l -> 1 + size(l.map()) + size(l.key());
            case Ir.Not n -> 1 + size(n.operand());
            case Ir.Neg n -> 1 + size(n.operand());
            case Ir.And a -> 1 + size(a.left()) + size(a.right());
            case Ir.Or o -> 1 + size(o.left()) + size(o.right());
            case Ir.Compare c -> 1 + size(c.left()) + size(c.right());
            case Ir.InList l -> l.values().size() + size(l.element());
            case Ir.InRange r -> 2 + size(r.element());
            case Ir.Call c -> {
                int s = 1;
                for (Ir a : c.args()) s += size(a);
                yield s;
            }
            case Ir.Invoke c -> {
                int s = c.function().cost();
                for (Ir a : c.args()) s += size(a);
                yield s;
            }
        };
    }

    private static String underscored(long n) {
        String s = Long.toString(n);
        if (s.length() <= 4) return s;
        StringBuilder sb = new StringBuilder();
        int lead = s.length() % 3;
        if (lead > 0) sb.append(s, 0, lead);
        for (int i = lead; i < s.length(); i += 3) {
            if (!sb.isEmpty()) sb.append('_');
            sb.append(s, i, i + 3);
        }
        return sb.toString();
    }
}
