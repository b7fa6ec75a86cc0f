package keyguard.lang.parse;

import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.List;
import keyguard.lang.antlr.KgpLexer;
import keyguard.lang.antlr.KgpParser;
import keyguard.lang.antlr.KgpParser.*;
import keyguard.lang.diag.Code;
import keyguard.lang.diag.Diagnostic;
import keyguard.lang.diag.Diagnostics;
import keyguard.lang.source.SourceFile;
import keyguard.lang.source.Span;
import keyguard.lang.syntax.*;
import org.antlr.v4.runtime.CommonTokenStream;
import org.antlr.v4.runtime.ParserRuleContext;
import org.antlr.v4.runtime.Token;

/** Turns ANTLR's parse tree into the syntax tree of {@code keyguard.lang.syntax}. */
final class SyntaxTreeBuilder {
    private final SourceFile source;
    private final CommonTokenStream tokens;
    private final Diagnostics diagnostics;

    SyntaxTreeBuilder(SourceFile source, CommonTokenStream tokens, Diagnostics diagnostics) {
        this.source = source;
        this.tokens = tokens;
        this.diagnostics = diagnostics;
    }

    PolicyFile build(FileContext ctx) {
        List<Item> items = new ArrayList<>();
        for (ItemContext item : ctx.item()) items.add(item(item));
        return new PolicyFile(source, List.copyOf(items), comments());
    }

    private List<PolicyFile.Comment> comments() {
        List<PolicyFile.Comment> out = new ArrayList<>();
        String text = source.text();
        for (Token t : tokens.getTokens()) {
            if (t.getType() != KgpLexer.LINE_COMMENT && t.getType() != KgpLexer.BLOCK_COMMENT) continue;
            int i = t.getStartIndex() - 1;
            while (i >= 0 && (text.charAt(i) == ' ' || text.charAt(i) == '\t')) i--;
            boolean ownLine = i < 0 || text.charAt(i) == '\n' || text.charAt(i) == '\r';
            out.add(new PolicyFile.Comment(t.getText(), PolicyParser.span(source, t), ownLine));
        }
        return List.copyOf(out);
    }

    // ------------------------------------------------------------------ declarations

    private Item item(ItemContext ctx) {
        if (ctx.providerDecl() != null) {
            ProviderDeclContext p = ctx.providerDecl();
            List<Setting> settings = new ArrayList<>();
            for (SettingContext s : p.setting()) settings.add(setting(s));
            return new Item.Provider(name(p.name), List.copyOf(settings), span(p));
        }
        if (ctx.modelDecl() != null) {
            ModelDeclContext m = ctx.modelDecl();
            StringLit quoted = string(m.name);
            List<PriceTerm> prices = new ArrayList<>();
            List<Setting> settings = new ArrayList<>();
            for (ModelItemContext mi : m.modelItem()) {
                if (mi instanceof PriceItemContext pi) {
                    for (PriceTermContext pt : pi.priceTerm()) prices.add(priceTerm(pt));
                } else {
                    settings.add(setting(((SettingItemContext) mi).setting()));
                }
            }
            return new Item.Model(new Name(quoted.value(), quoted.span()), quoted, List.copyOf(prices), List.copyOf(settings), span(m));
        }
        if (ctx.detectorDecl() != null) {
            DetectorDeclContext d = ctx.detectorDecl();
            StringLit quoted = string(d.name);
            List<Setting> settings = new ArrayList<>();
            for (SettingContext sc : d.setting()) settings.add(setting(sc));
            return new Item.Detector(new Name(quoted.value(), quoted.span()), quoted, List.copyOf(settings), span(d));
        }
        if (ctx.labelDecl() != null) {
            LabelDeclContext l = ctx.labelDecl();
            List<Setting> settings = new ArrayList<>();
            for (SettingContext sc : l.setting()) settings.add(setting(sc));
            return new Item.Label(name(l.name), List.copyOf(settings), span(l));
        }
        if (ctx.orgDecl() != null) {
            OrgDeclContext o = ctx.orgDecl();
            List<Setting> settings = new ArrayList<>();
            List<Statement> body = new ArrayList<>();
            orgItems(o.orgItem(), settings, body);
            return new Item.OrgUnit(name(o.name), List.copyOf(settings), List.copyOf(body), span(o));
        }
        if (ctx.teamDecl() != null) {
            TeamDeclContext t = ctx.teamDecl();
            List<Setting> settings = new ArrayList<>();
            List<Statement> body = new ArrayList<>();
            orgItems(t.orgItem(), settings, body);
            return new Item.Team(name(t.name), List.copyOf(settings), List.copyOf(body), span(t));
        }
        if (ctx.channelDecl() != null) {
            ChannelDeclContext c = ctx.channelDecl();
            List<Setting> settings = new ArrayList<>();
            for (SettingContext sc : c.setting()) settings.add(setting(sc));
            return new Item.Channel(name(c.name), List.copyOf(settings), span(c));
        }
        if (ctx.functionDecl() != null) {
            FunctionDeclContext f = ctx.functionDecl();
            List<Item.Param> params = new ArrayList<>();
            for (ParamContext p : f.param()) {
                params.add(new Item.Param(name(p.name), name(p.type), p.expr() == null ? null : expr(p.expr()), span(p)));
            }
            return new Item.Function(name(f.lang), name(f.name), List.copyOf(params), name(f.result), value(f.value()), span(f));
        }
        if (ctx.templateDecl() != null) {
            TemplateDeclContext t = ctx.templateDecl();
            List<Item.Param> params = new ArrayList<>();
            for (ParamContext p : t.param()) {
                params.add(new Item.Param(name(p.name), name(p.type), p.expr() == null ? null : expr(p.expr()), span(p)));
            }
            return new Item.Template(name(t.name), List.copyOf(params), body(t.body()), span(t));
        }
        if (ctx.policyDecl() != null) {
            PolicyDeclContext p = ctx.policyDecl();
            List<Item.Arg> args = new ArrayList<>();
            for (ArgContext a : p.arg()) args.add(new Item.Arg(name(a.name), expr(a.expr()), span(a)));
            return new Item.Policy(name(p.name), p.base == null ? null : name(p.base), List.copyOf(args),
                    p.body() == null ? List.of() : body(p.body()), span(p));
        }
        TestsDeclContext t = ctx.testsDecl();
        List<Item.TestCase> cases = new ArrayList<>();
        for (TestCaseContext tc : t.testCase()) {
            List<TestClause> clauses = new ArrayList<>();
            for (TestClauseContext c : tc.testClause()) clauses.add(testClause(c));
            cases.add(new Item.TestCase(string(tc.name), List.copyOf(clauses), span(tc)));
        }
        return new Item.Tests(name(t.name), List.copyOf(cases), span(t));
    }

    private void orgItems(List<OrgItemContext> items, List<Setting> settings, List<Statement> body) {
        for (OrgItemContext oi : items) {
            if (oi.setting() != null) settings.add(setting(oi.setting()));
            else body.add(statement(oi.statement()));
        }
    }

    private Setting setting(SettingContext ctx) {
        return new Setting(name(ctx.name), value(ctx.value()), span(ctx));
    }

    private Value value(ValueContext ctx) {
        return switch (ctx) {
            case StringValueContext s -> new Value.Str(string(s.STRING().getSymbol()));
            case NumberValueContext n -> new Value.Num(decimal(n.number()), n.getText(), span(n));
            case SuffixedValueContext s -> {
                Suffix sfx = suffix(s.SUFFIXED().getSymbol());
                yield new Value.Suffixed(sfx.amount, sfx.unit, s.getText(), span(s));
            }
            case CallValueContext c -> new Value.Call(name(c.ident()), string(c.STRING().getSymbol()), span(c));
            case WordValueContext w -> new Value.Word(name(w.ident()));
            case ListValueContext l -> new Value.ListV(list(l.listLiteral()), span(l));
            default -> throw new IllegalStateException("unknown value " + ctx.getClass());
        };
    }

    private PriceTerm priceTerm(PriceTermContext ctx) {
        return new PriceTerm(name(ctx.direction), decimal(ctx.amount), ctx.amount.getText(), name(ctx.currency),
                ctx.per.getText(), PolicyParser.span(source, ctx.per), name(ctx.unit), span(ctx));
    }

    private List<Statement> body(BodyContext ctx) {
        List<Statement> out = new ArrayList<>();
        for (StatementContext s : ctx.statement()) out.add(statement(s));
        return List.copyOf(out);
    }

    private Statement statement(StatementContext ctx) {
        return switch (ctx) {
            case TagsStmtContext t -> {
                List<MapEntry> entries = new ArrayList<>();
                for (TagEntryContext e : t.tagEntry()) entries.add(mapEntry(e.key, e.expr(), e));
                yield new Statement.Tags(List.copyOf(entries), span(t));
            }
            case ModelsStmtContext m -> new Statement.Models(m.OVERRIDE() != null, name(m.verb), m.PLUS_ASSIGN() != null, list(m.list), span(m));
            case LimitStmtContext l -> new Statement.Limit(l.OVERRIDE() != null, name(l.metric), quantity(l.amount),
                    l.window == null ? null : durationWord(l.window), l.scope == null ? null : name(l.scope),
                    l.failMode == null ? null : name(l.failMode), l.onExcess == null ? null : name(l.onExcess), alert(l.alertClause()), span(l));
            case ParamsStmtContext pa -> new Statement.Params(pa.OVERRIDE() != null, list(pa.list), span(pa));
            case RequestTagsStmtContext rt -> {
                List<Statement.RequestTag> tags = new ArrayList<>();
                for (RequestTagContext t : rt.requestTag()) {
                    String key = t.key.STRING() != null ? string(t.key.STRING().getSymbol()).value() : t.key.getText();
                    tags.add(new Statement.RequestTag(key, span(t.key), t.key.STRING() != null, t.presence == null ? null : name(t.presence),
                            t.values == null ? List.of() : list(t.values), span(t)));
                }
                yield new Statement.RequestTags(rt.OVERRIDE() != null, List.copyOf(tags), span(rt));
            }
            case EndUsersStmtContext eu -> {
                List<Setting> settings = new ArrayList<>();
                for (SettingContext sc : eu.setting()) settings.add(setting(sc));
                yield new Statement.EndUsers(eu.OVERRIDE() != null, List.copyOf(settings), span(eu));
            }
            case BudgetStmtContext b -> new Statement.Budget(b.OVERRIDE() != null, quantity(b.amount), name(b.currency),
                    name(b.period), b.kind == null ? null : name(b.kind),
                    b.PERCENT() == null ? null : percent(b.PERCENT().getSymbol()),
                    b.scope == null ? null : name(b.scope), alert(b.alertClause()), span(b));
            case DataStmtContext d -> new Statement.Data(d.OVERRIDE() != null, name(d.level), name(d.cls),
                    d.violation == null ? null : name(d.violation), d.action == null ? null : name(d.action),
                    d.target == null ? null : string(d.target), span(d));
            case ZoneStmtContext z -> new Statement.Zone(string(z.STRING().getSymbol()), span(z));
            case OnStmtContext o -> new Statement.On(o.OVERRIDE() != null, name(o.event), name(o.action), span(o));
            case DefaultStmtContext d -> new Statement.Default(d.OVERRIDE() != null, name(d.what), quantity(d.amount), span(d));
            case DelegateStmtContext dg -> new Statement.Delegate(dg.OVERRIDE() != null, name(dg.maxWord), quantity(dg.max),
                    dg.depthWord == null ? null : name(dg.depthWord), dg.depth == null ? null : quantity(dg.depth), span(dg));
            case ForbidStmtContext f -> {
                List<Annotation> annotations = new ArrayList<>();
                for (AnnotationContext a : f.annotation()) {
                    annotations.add(new Annotation(name(a.name), string(a.STRING().getSymbol()), span(a)));
                }
                yield new Statement.Forbid(List.copyOf(annotations), expr(f.cond.expr()),
                        f.exc == null ? null : expr(f.exc.expr()), span(f));
            }
            default -> throw new IllegalStateException("unknown statement " + ctx.getClass());
        };
    }

    private TestClause testClause(TestClauseContext ctx) {
        return switch (ctx) {
            case ExpectClauseContext e -> new TestClause.Expect(name(e.outcome), e.ruleId == null ? null : string(e.ruleId),
                    e.tags == null ? null : mapEntries(e.tags), span(e));
            case AtClauseContext a -> new TestClause.At(string(a.instant), span(a));
            case SectionClauseContext s -> new TestClause.Section(name(s.section), mapEntries(s.mapLiteral()), span(s));
            default -> throw new IllegalStateException("unknown clause " + ctx.getClass());
        };
    }

    private List<MapEntry> mapEntries(MapLiteralContext ctx) {
        List<MapEntry> out = new ArrayList<>();
        for (MapEntryContext e : ctx.mapEntry()) out.add(mapEntry(e.key, e.expr(), e));
        return List.copyOf(out);
    }

    private MapEntry mapEntry(MapKeyContext key, ExprContext value, ParserRuleContext whole) {
        boolean quoted = key.STRING() != null;
        String text = quoted ? string(key.STRING().getSymbol()).value() : key.getText();
        return new MapEntry(text, span(key), quoted, expr(value), span(whole));
    }

    private Quantity quantity(QuantityContext ctx) {
        if (ctx.number() != null) return new Quantity(decimal(ctx.number()), null, ctx.getText(), span(ctx));
        return new Quantity(null, name(ctx.ident()), ctx.getText(), span(ctx));
    }

    private Name durationWord(DurationWordContext ctx) {
        return new Name(ctx.getText(), span(ctx));
    }

    private List<Expr> list(ListLiteralContext ctx) {
        List<Expr> out = new ArrayList<>();
        for (ExprContext e : ctx.expr()) out.add(expr(e));
        return List.copyOf(out);
    }

    // ------------------------------------------------------------------ expressions

    private Expr expr(ExprContext ctx) {
        return switch (ctx) {
            case NotExprContext n -> new Expr.Not(expr(n.expr()), span(n));
            case NegExprContext n -> new Expr.Neg(expr(n.expr()), span(n));
            case RangeExprContext r -> new Expr.Range(expr(r.expr(0)), expr(r.expr(1)), span(r));
            case CompareExprContext c -> new Expr.Binary(c.op.getText(), expr(c.expr(0)), expr(c.expr(1)), span(c));
            case EqualityExprContext c -> new Expr.Binary(c.op.getText(), expr(c.expr(0)), expr(c.expr(1)), span(c));
            case InExprContext i -> new Expr.In(expr(i.expr(0)), expr(i.expr(1)), span(i));
            case AndExprContext a -> new Expr.Binary("&&", expr(a.expr(0)), expr(a.expr(1)), span(a));
            case OrExprContext o -> new Expr.Binary("||", expr(o.expr(0)), expr(o.expr(1)), span(o));
            case PrimaryExprContext p -> primary(p.primary());
            default -> throw new IllegalStateException("unknown expression " + ctx.getClass());
        };
    }

    private Expr primary(PrimaryContext ctx) {
        return switch (ctx) {
            case LiteralPrimaryContext l -> literal(l.literal());
            case ParenPrimaryContext p -> new Expr.Paren(expr(p.expr()), span(p));
            case ListPrimaryContext l -> new Expr.ListExpr(list(l.listLiteral()), span(l));
            case CallPrimaryContext c -> {
                List<Expr> args = new ArrayList<>();
                for (ExprContext e : c.expr()) args.add(expr(e));
                yield new Expr.Call(name(c.ident()), List.copyOf(args), span(c));
            }
            case PathPrimaryContext p -> {
                List<Name> segments = new ArrayList<>();
                for (int i = 0; i < p.getChildCount(); i++) {
                    var child = p.getChild(i);
                    if (child instanceof IdentContext id) segments.add(name(id));
                    else if (child instanceof org.antlr.v4.runtime.tree.TerminalNode tn && tn.getSymbol().getType() != KgpLexer.DOT) {
                        segments.add(new Name(tn.getText(), PolicyParser.span(source, tn.getSymbol())));
                    }
                }
                yield new Expr.Path(List.copyOf(segments), span(p));
            }
            case IndexPrimaryContext i -> new Expr.Index(primary(i.primary()), expr(i.expr()), span(i));
            default -> throw new IllegalStateException("unknown primary " + ctx.getClass());
        };
    }

    private Expr literal(LiteralContext ctx) {
        if (ctx.STRING() != null) return new Expr.Str(string(ctx.STRING().getSymbol()));
        if (ctx.TRUE() != null) return new Expr.Bool(true, span(ctx));
        if (ctx.FALSE() != null) return new Expr.Bool(false, span(ctx));
        NumberContext n = ctx.number();
        if (n.INT() != null) return new Expr.Int(integer(n.INT().getSymbol()), n.getText(), span(n));
        return new Expr.Dec(decimal(n), n.getText(), span(n));
    }

    // ------------------------------------------------------------------ tokens

    private Name name(IdentContext ctx) {
        return new Name(ctx.getText(), span(ctx));
    }

    private Span span(ParserRuleContext ctx) {
        int start = ctx.getStart().getStartIndex();
        Token stop = ctx.getStop();
        int end = stop == null || stop.getType() == Token.EOF ? start : stop.getStopIndex() + 1;
        return new Span(source, start, Math.max(start, end));
    }

    private long integer(Token t) {
        String digits = t.getText().replace("_", "");
        try {
            return Long.parseLong(digits);
        } catch (NumberFormatException e) {
            diagnostics.add(Diagnostic.error(Code.KG0008, PolicyParser.span(source, t), "number `" + t.getText() + "` is too large")
                    .label("larger than 9_223_372_036_854_775_807")
                    .help("no limit or budget needs a number this large"));
            return 0;
        }
    }

    private BigDecimal decimal(NumberContext ctx) {
        Token t = ctx.getStart();
        if (ctx.INT() != null) return BigDecimal.valueOf(integer(t));
        return new BigDecimal(t.getText().replace("_", ""));
    }

    private Statement.Alert alert(AlertClauseContext a) {
        if (a == null) return null;
        List<Expr.Dec> percents = new ArrayList<>();
        for (org.antlr.v4.runtime.tree.TerminalNode p : a.PERCENT()) percents.add(percent(p.getSymbol()));
        return new Statement.Alert(name(a.channel), List.copyOf(percents), a.after == null ? null : name(a.after),
                a.count == null ? null : new Quantity(BigDecimal.valueOf(integer(a.count)), null, a.count.getText(), PolicyParser.span(source, a.count)), span(a));
    }

    private Expr.Dec percent(Token t) {
        String text = t.getText();
        return new Expr.Dec(new BigDecimal(text.substring(0, text.length() - 1).replace("_", "")), text, PolicyParser.span(source, t));
    }

    private record Suffix(long amount, String unit) {}

    private Suffix suffix(Token t) {
        String text = t.getText();
        int i = text.length();
        while (i > 0 && Character.isLetter(text.charAt(i - 1))) i--;
        String digits = text.substring(0, i).replace("_", "");
        long amount;
        try {
            amount = Long.parseLong(digits);
        } catch (NumberFormatException e) {
            diagnostics.add(Diagnostic.error(Code.KG0008, PolicyParser.span(source, t), "number `" + text + "` is too large"));
            amount = 0;
        }
        return new Suffix(amount, text.substring(i));
    }

    private StringLit string(Token t) {
        String text = t.getText();
        String raw = text.substring(1, text.length() - 1);
        StringBuilder out = new StringBuilder(raw.length());
        for (int i = 0; i < raw.length(); i++) {
            char c = raw.charAt(i);
            if (c != '\\') {
                out.append(c);
                continue;
            }
            char next = raw.charAt(++i);
            switch (next) {
                case '"' -> out.append('"');
                case '\\' -> out.append('\\');
                case 'n' -> out.append('\n');
                case 't' -> out.append('\t');
                case '{' -> out.append('{');
                case '}' -> out.append('}');
                default -> {
                    int at = t.getStartIndex() + 1 + i - 1;
                    diagnostics.add(Diagnostic.error(Code.KG0009, new Span(source, at, at + 2), "invalid escape `\\" + next + "`")
                            .label("not an escape")
                            .help("escapes are `\\\"`, `\\\\`, `\\n`, `\\t`, `\\{` and `\\}`"));
                    out.append(next);
                }
            }
        }
        return new StringLit(out.toString(), raw, PolicyParser.span(source, t));
    }
}
