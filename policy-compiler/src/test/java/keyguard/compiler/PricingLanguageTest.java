package keyguard.compiler;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Set;
import keyguard.compiler.fmt.Formatter;
import keyguard.policy.ModelInfo;
import keyguard.policy.Policy;
import keyguard.policy.PolicySet;
import keyguard.policy.Pricing;
import keyguard.policy.Usage;
import org.junit.jupiter.api.Test;

/** Price terms, `limit max_tokens` and `allow params`: what the compiler builds from them. */
class PricingLanguageTest {
    static final String MODELS = """
            provider sim { builtin simulator }
            provider ant { kind anthropic base_url "https://api.anthropic.com/v1" credential env("ANTHROPIC_API_KEY") }
            provider oai { base_url "https://api.openai.com/v1" credential env("OPENAI_API_KEY") }
            model "full" {
              provider oai
              price input 2.5 usd per 1m tokens, output 10 usd per 1m tokens, cache_read 1.25 usd per 1m tokens,
                    reasoning 12 usd per 1m tokens, image 0.001 usd per 1 image, request 1 usd per 1k requests,
                    web_search 25 usd per 1k searches
              service_tier_priority 2
              service_tier_flex 0.5
              max_class internal
            }
            model "claude" { provider ant price input 3 usd per 1m tokens, output 15 usd per 1m tokens max_class internal }
            model "plain" { provider oai price input 1 usd per 1m tokens, output 2 usd per 1m tokens max_class internal }
            """;

    static PolicyCompiler.Result compile(String policies) {
        return PolicyCompiler.compile(List.of(
                new PolicyCompiler.Source("models.kgp", MODELS.getBytes(StandardCharsets.UTF_8)),
                new PolicyCompiler.Source("p.kgp", policies.getBytes(StandardCharsets.UTF_8))));
    }

    static PolicySet set(String policies) {
        PolicyCompiler.Result r = compile(policies);
        assertTrue(r.ok(), r.diagnostics().render());
        return r.set();
    }

    @Test
    void everyDeclaredTermIsKeptInMicroDollarsPerMillionUnits() {
        Pricing p = set("policy p { models allow [\"full\"] }").model("full").pricing();
        assertEquals(2_500_000, p.input());
        assertEquals(10_000_000, p.output());
        assertEquals(1_250_000, p.cacheRead());
        assertEquals(12_000_000, p.reasoning());
        assertEquals(1_000_000_000L, p.image(), "0.001 usd per image: 1,000 micro-dollars an image, 10⁹ per million");
        assertEquals(1_000_000_000L, p.request(), "1 usd per 1k requests = 1,000 micro-dollars per request");
        assertEquals(25_000_000_000L, p.webSearch());
        assertEquals(2000, p.tier("priority"));
        assertEquals(500, p.tier("flex"));
        assertEquals(-1, p.tier("scale"));
        assertEquals(2000, p.highestTier());
    }

    @Test
    void missingTermsAreNeverCheaperThanTheProviderBills() {
        PolicySet s = set("policy p { models allow [\"claude\", \"plain\"] }");
        Pricing claude = s.model("claude").pricing();
        assertEquals(3_000_000, claude.cacheRead(), "cached input at the full input price");
        assertEquals(6_000_000, claude.cacheWrite(), "an Anthropic cache write at twice the input price (the one-hour write)");
        assertEquals(15_000_000, claude.reasoning(), "reasoning at the output price");
        Pricing plain = s.model("plain").pricing();
        assertEquals(1_000_000, plain.cacheWrite(), "OpenAI-style providers bill no cache write: the input price");
        assertEquals(0, plain.image());
        assertEquals(Pricing.STANDARD, plain.highestTier());
    }

    @Test
    void aRequestCostsItsTermsTimesItsTierRoundedUpOnce() {
        Pricing p = set("policy p { models allow [\"full\"] }").model("full").pricing();
        // 1,000 uncached input (2,500 µ$), 3,000 cache reads (3,750), 200 output (2,000), 100 reasoning (1,200),
        // 2 images (2,000), 1 request (1,000), 1 search (25,000) = 37,450 µ$; priority doubles it.
        Usage u = new Usage(1_000, 0, 0, 3_000, 200, 100, 2, 1, 1, null);
        assertEquals(37_450, p.costMicros(u, Pricing.STANDARD));
        assertEquals(74_900, p.costMicros(u, 2000));
        assertEquals(3, p.costMicros(new Usage(1, 0, 0, 0, 0, 0, 0, 0, 0, null), Pricing.STANDARD), "one token at 2.5 µ$ rounds up to 3 µ$");
        // The worst case takes every prompt token at the highest prompt price and every output token at the reasoning price.
        assertEquals(1_000 * 2_500_000L / 1_000_000 + 100 * 12 + 1_000, p.worstMicros(1_000, false, 100, 0, 0, Pricing.STANDARD));
    }

    @Test
    void limitMaxTokensAndAllowParamsReachThePolicy() {
        PolicySet s = set("""
                policy clamped { models allow ["full"] limit max_tokens 2_048 clamp allow params ["store", "service_tier"] }
                policy refusing { models allow ["full"] limit max_tokens 512 }
                policy open { models allow ["full"] }
                """);
        Policy clamped = s.policy("clamped");
        assertEquals(2048, clamped.maxTokensLimit());
        assertTrue(clamped.clampMaxTokens());
        assertEquals(Set.of("store", "service_tier"), clamped.allowedParams());
        Policy refusing = s.policy("refusing");
        assertEquals(512, refusing.maxTokensLimit());
        assertFalse(refusing.clampMaxTokens());
        assertEquals(0, s.policy("open").maxTokensLimit());
        assertTrue(s.policy("open").allowedParams().isEmpty());
    }

    @Test
    void allowingAParameterNoModelPricesIsWarnedAndOneTheModelPricesIsNot() {
        PolicyCompiler.Result r = compile("""
                policy priced { models allow ["full"] allow params ["service_tier", "web_search"] }
                policy unpriced { models allow ["plain"] allow params ["web_search"] }
                """);
        assertTrue(r.ok(), r.diagnostics().render());
        String text = r.diagnostics().render();
        assertEquals(2, text.split("KG0323", -1).length - 1, text);
        assertTrue(text.contains("`web_search` is allowed, but no allowed model prices it"), text);
        assertTrue(text.contains("`service_tier` is allowed: a tier a model does not declare is charged at its highest declared multiplier"), text);
    }

    @Test
    void aDefaultAboveTheMaxTokensLimitIsAnError() {
        PolicyCompiler.Result r = compile("policy p { models allow [\"full\"] default max_tokens 8_000 limit max_tokens 4_000 }");
        assertFalse(r.ok());
        assertTrue(r.diagnostics().render().contains("KG0324"), r.diagnostics().render());
    }

    @Test
    void theFormatterKeepsTheNewStatements() {
        String src = "policy p {\n  models allow [\"full\"]\n  limit max_tokens 4_096 clamp\n  allow params [\"store\"]\n}\n";
        String formatted = Formatter.format(new keyguard.lang.source.SourceFile("p.kgp", src)).text();
        assertTrue(formatted.contains("limit max_tokens 4_096 clamp"), formatted);
        assertTrue(formatted.contains("allow params [\"store\"]"), formatted);
        set(formatted);
    }

    @Test
    void theDecisionsCostIsTheWorstCaseOfTheDeclaredPrices() {
        ModelInfo m = set("policy p { models allow [\"full\"] }").model("full");
        assertEquals(m.pricing().worstMicros(500, false, 50, 0, 0, Pricing.STANDARD), m.costMicros(500, 50));
    }
}
