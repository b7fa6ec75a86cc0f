package keyguard.lang.syntax;

import java.util.List;
import keyguard.lang.source.Span;

/** A top-level declaration of a policy file. */
public sealed interface Item {
    Span span();

    Name name();

    record Provider(Name name, List<Setting> settings, Span span) implements Item {}

    record Model(Name name, StringLit quoted, List<PriceTerm> prices, List<Setting> settings, Span span) implements Item {}

    /** {@code detector "name" { words [...] | pattern "..."  class C }}. */
    record Detector(Name name, StringLit quoted, List<Setting> settings, Span span) implements Item {}

    /** {@code label name { set_by operator|team  values [...] }}: a key label rules may read, and who may set it. */
    record Label(Name name, List<Setting> settings, Span span) implements Item {}

    /**
     * {@code org name { limits and budgets }}: an org unit of the operator's organisation.
     * Its limits and budgets count every request of every key of its teams.
     */
    record OrgUnit(Name name, List<Setting> settings, List<Statement> body, Span span) implements Item {}

    /**
     * {@code team name { org unit  groups ["idp-group"]  limits and budgets }}: a team of the
     * operator's organisation, the identity-provider groups whose keys are its keys, and the
     * limits and budgets its keys share.
     */
    record Team(Name name, List<Setting> settings, List<Statement> body, Span span) implements Item {}

    /** {@code channel name { kind webhook|slack|smtp ... }}: where alerts go, with its secrets named, never written. */
    record Channel(Name name, List<Setting> settings, Span span) implements Item {}

    record Param(Name name, Name type, Expr defaultValue, Span span) {}

    /**
     * {@code function js name(p: type, ...) -> type = file("path.js")}: a function written
     * in another language, callable from conditions. {@code language} is the word after
     * {@code function}; {@code body} is usually {@code file("...")}.
     */
    record Function(Name language, Name name, List<Param> params, Name result, Value body, Span span) implements Item {}

    record Template(Name name, List<Param> params, List<Statement> body, Span span) implements Item {}

    record Arg(Name name, Expr value, Span span) {}

    /** {@code base} is null for a stand-alone policy; {@code body} is empty when omitted. */
    record Policy(Name name, Name base, List<Arg> args, List<Statement> body, Span span) implements Item {}

    record TestCase(StringLit name, List<TestClause> clauses, Span span) {}

    record Tests(Name name, List<TestCase> cases, Span span) implements Item {}
}
