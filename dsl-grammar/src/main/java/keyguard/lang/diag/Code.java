package keyguard.lang.diag;

/**
 * The catalog of diagnostic codes. A code is stable once released: its meaning never
 * changes and it is never reused. Each one has a page, {@code docs/errors/KGnnnn.md},
 * generated from {@link #title()} and {@link #explanation()} plus the golden-file example
 * of the same name (see {@code DiagnosticGoldenTest}).
 */
public enum Code {
    // ---- syntax
    KG0001("unexpected character", "The file contains a character that cannot start any token of the language, such as `#` or `$`. Strings must use double quotes; comments start with `//` or `/*`."),
    KG0002("unterminated string", "A string literal starts with `\"` but the line ends before the closing quote. Strings cannot span lines."),
    KG0003("unterminated block comment", "A `/*` comment is never closed with `*/` before the end of the file."),
    KG0004("unexpected token", "The parser found a word or symbol where the grammar does not allow it. The message lists what may stand there."),
    KG0005("unexpected end of file", "The file ends in the middle of a declaration, usually because a `}` or `)` is missing."),
    KG0006("nesting too deep", "Brackets, braces or prefix operators are nested deeper than the language allows (64 levels). Policies never need this; the limit keeps every check bounded."),
    KG0007("file is not valid UTF-8", "Policy files must be UTF-8 text. The file contains bytes that are not valid UTF-8, often because it is binary or was saved in another encoding."),
    KG0008("number out of range", "An integer literal does not fit in 63 bits, or a decimal has more precision than the language keeps (six decimal places)."),
    KG0009("invalid escape in string", "Inside a string only `\\\"`, `\\\\`, `\\n`, `\\t`, `\\{` and `\\}` are escapes."),
    KG0010("condition too large", "A single `when` or `unless` block has more than 1,000 operators. Every decision has a small static cost bound; split the rule, or use `in [...]` for long lists of alternatives."),
    KG0011("refused file", "An entry of the policy directory is refused before it is read: a symbolic link (with a `.kgp` or `.js` name, or to a folder), a device or a pipe, or a top-level name that could pass for the operator's folder (`PLATFORM/`, or a file named `platform\\x.kgp`). The gateway reads regular files only, so that nothing committed to the repository can make it read a file outside the policy directory (a secret, another team's file) and quote it in a diagnostic, or slip a team's file into the operator's part."),

    // ---- names and declarations
    KG0101("duplicate declaration", "Two providers, models, templates or policies have the same name. Names are global across the policy directory (a template and a policy cannot share a name either). Several `tests` blocks for one policy are fine: they add up."),
    KG0102("unknown provider", "A model names a provider that no `provider` declaration defines."),
    KG0103("unknown model", "A model name in `models allow`, a `reroute` target or a test request is not declared by any `model` block."),
    KG0104("unknown template", "A policy is declared as `= name(...)` but no template of that name exists."),
    KG0105("unknown policy", "A `tests` block names a policy that does not exist."),
    KG0106("unknown name", "An expression uses a name that is neither a template parameter nor a built-in root (`request`, `key`, `model`, `time`, `usage`) nor a constant (data classes, weekdays)."),
    KG0107("unknown field", "A path such as `request.modle` names a field the root does not have."),
    KG0108("unknown function", "A call names a function that is neither built in (`startsWith`, `endsWith`, `contains`, `matches`, `lower`, `upper`), nor declared with `function js`, nor provided by a jar in the gateway's plugin folder (`--plugins`)."),
    KG0109("unknown setting", "A `provider` or `model` block contains a setting the language does not know, or a policy sets a `default` for something other than `max_tokens`."),
    KG0110("missing setting", "A `provider` or `model` block lacks a setting it needs (a model needs `provider`, `price` and `max_class`; a provider needs `builtin` or `base_url`)."),
    KG0111("duplicate setting", "The same setting appears twice in one block."),

    // ---- templates
    KG0201("missing template argument", "A policy built from a template does not pass a value for a parameter without a default."),
    KG0202("unknown template argument", "A policy passes an argument the template does not declare."),
    KG0203("argument type mismatch", "A template argument or parameter default has a different type than the parameter declares."),
    KG0204("template argument is not a constant", "Template arguments must be literals, so that a policy's limits are known when it compiles."),
    KG0205("duplicate parameter", "A template declares two parameters with the same name."),
    KG0206("unknown parameter type", "Parameter types are `string`, `int`, `bool` and `class`."),

    // ---- policy statements
    KG0301("unknown limit metric", "A `limit` counts `requests`, `tokens` or `concurrent` requests."),
    KG0302("invalid window", "A window is a positive whole number with a unit: `s`, `m` (minutes), `h`, `d` or `w`, e.g. `per 1m`, `per 1d`. Windows are at least one second and at most 31 days."),
    KG0303("invalid scope", "A limit or budget is counted `by key` (each key its own counter) or `by policy` (one counter shared by every key bound to the policy)."),
    KG0304("window not allowed here", "`limit requests` and `limit tokens` need `per <window>`; `limit concurrent` counts requests in flight and takes no window."),
    KG0305("invalid amount", "Limits and budgets need a positive amount: a whole number for limits, a decimal with at most six places for budgets."),
    KG0306("invalid budget", "A budget reads `budget <amount> usd per day|week|month hard|soft [warn at P%] [by key|policy]`."),
    KG0307("unknown data class", "Data classes are, from lowest to highest: `public`, `internal`, `confidential`, `restricted`."),
    KG0308("invalid data action", "`data max <class> on violation` takes `deny`, `redact` or `reroute \"<model>\"`."),
    KG0309("invalid models statement", "A policy lists models with `models allow [...]`; a policy built from a template adds with `models allow += [...]`."),
    KG0310("defined twice", "The same limit, budget, data rule, default or zone is defined twice in one body."),
    KG0311("tag redefined", "A tag key is set twice, or a policy sets a tag its template already sets. Pass the value as a template parameter instead."),
    KG0312("redefines an inherited setting", "A policy built from a template redefines a limit, budget, data rule, default or model list that the template defines. Write `override` to replace it on purpose."),
    KG0313("nothing to override", "`override` is written on a limit, budget, data rule or default that the template does not define."),
    KG0314("override loosens an inherited setting", "An `override` raises a limit or budget, lowers its hardness, or raises a data ceiling compared to the template. Allowed, but worth a second look in review."),
    KG0315("duplicate rule id", "Two `forbid` rules in the same policy have the same `@id`."),
    KG0316("forbid rule without an id", "Every `forbid` rule needs `@id(\"...\")` so that decisions, tests and audit events can name it."),
    KG0317("unknown annotation", "Rules take `@id(\"...\")` and `@reason(\"...\")`."),
    KG0318("invalid time zone", "`zone` takes an IANA time zone id such as `\"UTC\"` or `\"Europe/Berlin\"`."),
    KG0319("invalid reason template", "A `@reason` may interpolate `{path}` where `path` is a field such as `request.model` or `key.name`; braces must balance."),
    KG0320("reroute target cannot take the data", "The model named in `reroute` has a `max_class` lower than the data class the rule reroutes for, so rerouting would still violate the ceiling."),
    KG0321("unknown statement word", "The word after `models`, `data`, `on` or `fail` is not one the language knows (`models allow`, `data max`, `on violation`, `fail open`, `fail closed`)."),
    KG0322("unknown request parameter", "`allow params [...]` names request parameters that change the price: `service_tier`, `store`, `web_search`, `web_fetch`, `code_execution`, `server_tools`, `mcp_servers`, `audio`, `prediction`."),
    KG0323("parameter allowed without a price", "A policy allows a request parameter that changes what the provider bills, but an allowed model does not price it (`service_tier_<tier>`, `price web_search`), or no price can express it (`store`, `audio`). Requests using it are forwarded and their extra cost is not counted against budgets."),
    KG0324("invalid max_tokens limit", "`limit max_tokens N` caps the output a request may ask for; it takes no window, scope or failure mode, ends with `refuse` (the default) or `clamp`, and must not be below the policy's `default max_tokens`."),
    KG0325("invalid request tag", "`allow tags { ... }` declares the tags a request may carry: `name [required|optional] [in [\"value\", ...]]`. Names are letters, digits, `_`, `.` and `-` (quote one with `-`, and `required` or `optional`), at most 64, and no policy's audit tag; values are non-empty strings of at most 128 characters without `,`, `=`, control characters or spaces at either end; the list is not empty."),
    KG0326("invalid organisation", "The operator's `org` and `team` declarations: names are lower-case letters, digits, `_` and `-`; a team's `org` names a declared org unit and its `groups` are identity-provider group names, each given to one team only; a unit or team holds only `limit` and `budget` lines, without `by` (they count all its keys together). A policy limit `by team` or `by org` with no team (or no team in an org unit) declared refuses every request and is a warning."),
    KG0327("invalid end_users", "`end_users { from [...]  max N  overflow shared|refuse }` says whom a policy's `by user` limits and budgets count: `from` lists, each once, where a request names its end user (\"user\": OpenAI's `user` field, \"metadata\": `metadata.user_id`, \"header\": `x-keyguard-user`); `max` is the number of distinct end users one key tracks, 1 to 100,000; `overflow` is `shared` (the rest share one set of counters) or `refuse`."),
    KG0328("invalid alert", "`alert CHANNEL at 50%, 80%, 100%` after a budget sends a message to a declared channel when the budget's spend in a period first reaches each percentage (whole, ascending, 1% to 1000%, at most 8); `alert CHANNEL after N` after a limit sends one when it has refused N requests within a clock hour. The channel must be declared by the operator."),
    KG0329("invalid delegation", "`delegate max N depth D` lets a key of the policy mint sub-keys (`POST /v1/keyguard/keys`): at most N (1 to 1,000) active ones per key, D (1 to 5, default 1) levels below the key an admin made. A sub-key can only narrow: its parent's policy, team and counters, a subset of its models, a lifetime within its parent's."),

    // ---- types
    KG0401("type mismatch", "The two sides of an operator have different types, or an operator is applied to a type it does not support."),
    KG0402("condition is not a boolean", "A `when` or `unless` block must be a boolean expression."),
    KG0403("wrong function arguments", "A function is called with the wrong number or types of arguments."),
    KG0404("invalid regular expression", "The pattern passed to `matches` is not a valid RE2 expression, or is not a string literal. Patterns are compiled once and run in linear time."),
    KG0405("`in` needs a list or a range", "The right side of `in` must be a list literal `[a, b]` or a range `lo..hi`."),
    KG0406("invalid range", "A range `lo..hi` must have constant bounds of the same type (integers or weekdays), `lo <= hi`, and may only stand on the right of `in`."),
    KG0407("values cannot be ordered", "`<`, `<=`, `>` and `>=` apply to integers and data classes only."),
    KG0408("invalid usage path", "Counters read as `usage.<metric>.<scope>.<window>`, e.g. `usage.tokens.policy.1d` or `usage.spend.key.day`."),
    KG0409("condition is constant", "After template arguments are substituted, a `when` block is always false (the rule can never fire) or always true."),
    KG0410("cannot index this value", "Only maps (`request.tags`, `request.metadata`, `key.labels`) can be indexed, with a string."),
    KG0411("undeclared label", "A condition or reason reads a key label (`key.env`, `key.labels[\"env\"]`) that no `label` declaration of the operator declares. A rule may only trust a label whose declaration says who may set it (`set_by operator` or `set_by team`); otherwise a team admin could give a key the label that exempts it. Labels are read by name, never by a computed key."),

    // ---- tests
    KG0501("unknown test clause", "A test contains `request {...}`, `key {...}`, `usage {...}`, `at \"<instant>\"` and `expect ...`."),
    KG0502("invalid test value", "A field in a test's `request`, `key` or `usage` block is unknown or has the wrong type."),
    KG0503("invalid instant", "`at` takes an ISO-8601 instant such as `\"2026-06-06T10:00Z\"`."),
    KG0504("invalid expectation", "`expect` takes `allow`, `deny` or `throttle`, optionally `by \"<rule id>\"` and `tags {...}`."),
    KG0505("incomplete test", "A test needs a `request` with a `model` and exactly one `expect`."),

    // ---- providers and models
    KG0601("invalid price", "A price reads `price input <usd> usd per 1m tokens, output <usd> usd per 1m tokens`, with non-negative amounts; optional terms are `cache_write`, `cache_write_1h`, `cache_read` and `reasoning` (per `1m` or `1k` tokens), `image` (per images), `request` (per requests) and `web_search` (per searches). A term left out is billed at a price never below the provider's."),
    KG0602("secret in a policy file", "A provider credential or a channel's secret is written as a literal, or names a variable it may not. Secrets never appear in policy files: write `credential env(\"NAME\")` and set the variable where the gateway runs."),
    KG0603("invalid provider", "A provider is either `builtin simulator` or an upstream with a `base_url` and a `kind` of `openai` or `anthropic`."),
    KG0604("invalid model setting", "A model setting has a value of the wrong kind, e.g. `context` must be a positive integer, `hosting` is `external` or `self`, and `type` is `chat` or `embedding`."),
    KG0605("declaration belongs to the operator", "Providers (with their credentials and base URLs), models, detectors and labels are declared only in the operator's part of the policy repository (by default the `platform/` folder; `keyguard serve --operator-dir`), which CODEOWNERS gives to the platform team. A team file that declares one is refused, so that no team can point the gateway's credentials at a URL of its choosing or widen what a model may receive. Likewise a function the operator declares must run a JavaScript file of the operator's folder, not a team's."),
    KG0606("credential variable not allowed", "A provider's `credential env(\"NAME\")` names an environment variable the gateway's operator did not allow. By default a credential may name `KEYGUARD_PROVIDER_*` or `*_API_KEY` variables (`keyguard serve --credential-env` changes the list), and never one of the gateway's own `KEYGUARD_` variables such as the admin token."),
    KG0607("base URL not allowed", "A provider's `base_url` is not among the URL prefixes the gateway's operator allowed (`keyguard serve --allow-base-url`). Scheme, host and port must be equal and the path must start with an allowed prefix's path."),
    KG0608("invalid label declaration", "A label reads `label <name> { set_by operator|team  values [\"a\", \"b\"] }`: `set_by` says who may give a key this label (`operator`: admins only; `team`: team admins of the key's policy too), and the optional `values` lists the values a key may carry."),
    KG0609("invalid channel", "A channel, declared by the operator, is `kind webhook` with a `url` and a signing `secret env(\"KEYGUARD_CHANNEL_...\")`, `kind slack` with a `url` (a string, or `env(...)`: a Slack webhook's URL is itself a secret), or `kind smtp` with a `server \"smtp://host:port\"` (or `smtps://`), a `from` address, a non-empty `to` list, optionally `username` and `password` from the environment, and `tls optional` to allow a server without STARTTLS (never with a password). Secrets are only ever `KEYGUARD_CHANNEL_*` variables."),

    // ---- detectors
    KG0701("invalid detector", "A `detector` has a lower-case name (letters, digits, `_`), a `class`, and exactly one of `words [\"...\", ...]` (whole words or phrases, matched case-insensitively) or `pattern \"...\"` (an RE2 expression that cannot match the empty string)."),

    // ---- functions
    KG0801("invalid function declaration", "A function is declared as `function js name(p: type, ...) -> type = file(\"path.js\")`. The language is `js`; parameter and result types are `string`, `int` and `bool`; parameters have no defaults."),
    KG0802("function source problem", "The file of a `function js` declaration must lie under the policy directory (its path is relative to the `.kgp` file), parse as JavaScript, and define a top-level function of the declared name that takes at most the declared parameters."),
    KG0803("function name taken", "A declared function has the name of a built-in function or of a function from a plugin jar. Names of functions are global; rename the declaration."),
    KG0804("invalid `on` statement", "A policy chooses what a rule does when a function it calls fails (throws, times out, exceeds a limit, or returns the wrong type): `on error deny` (the default: the rule fires) or `on error allow` (the rule does not fire). The failure is logged and recorded in the request's audit event either way. It also chooses what happens to content the gateway cannot scan (images, PDFs, audio, files): `on unscannable deny` (the default: it counts as `restricted`) or `on unscannable allow`."),

    // ---- analysis (keyguard check): what a policy can and cannot do, decided by a SAT solver over the language's domains
    KG0901("rule can never fire", "No request can make this rule's `when` hold with its `unless` false, given the declared models (and their providers, hosting, ceilings and context windows), the data classes, the weekdays, hours and minutes, the values a key label declares, and the intervals the conditions' numbers cut. The message names the parts that contradict each other. A rule that cannot fire protects nothing: fix its condition or remove it."),
    KG0902("rule never decides alone", "Every request this rule forbids is forbidden by an earlier rule of the same policy already: the rule only ever fires together with it, so removing it would change no decision (only the reasons listed). The message shows a request both forbid. Often the earlier rule is broader than intended."),
    KG0903("allowed model can never be used", "A model in `models allow` is forbidden for every request by the policy's rules (together), so listing it allows nothing. Remove it from the list, or narrow the rules."),
    KG0904("reroute target not allowed", "`data max ... on violation reroute \"M\"` sends requests to a model the policy's `models allow` does not list. Keys of the policy cannot call that model directly, yet their most sensitive requests go to it. If that is intended (a self-hosted model only for rerouted data), list it anyway or say so in review."),
    KG0905("limit can never bind", "A limit can never be reached: another limit of the same metric admits no more in the same window, or in a shorter window repeated over it (a `by policy` limit also bounds each key; a `by key` limit does not bound the policy's total). Such a limit only adds a counter to every request."),
    KG0906("limit always binds", "A limit or a hard budget refuses every request of some kind whatever the counters hold: a token limit smaller than what a request without `max_tokens` reserves (its `default max_tokens` plus a prompt), or a hard budget smaller than the price of the cheapest request any allowed model can take."),
    KG0907("budget under a smaller budget", "A budget is not below a hard budget of the same period one level up, which is always reached first, so it can never bind: a `by key` budget against the policy's `by policy`, `by team` or `by org` budget, a `by team` budget against a `by org` one, or a team's declared budget against its org unit's. Give each child a smaller share, or drop its budget.");

    private final String title;
    private final String explanation;

    Code(String title, String explanation) {
        this.title = title;
        this.explanation = explanation;
    }

    public String id() { return name(); }

    public String title() { return title; }

    public String explanation() { return explanation; }

    /** Diagnostics about secrets: the renderer masks the span so the secret never reaches a log. */
    public boolean masksSpan() { return this == KG0602; }
}
