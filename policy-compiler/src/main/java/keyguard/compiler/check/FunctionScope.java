package keyguard.compiler.check;

import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import keyguard.functions.FunctionLibrary;
import keyguard.functions.FunctionRef;
import keyguard.functions.js.JsEngine;
import keyguard.functions.js.JsModule;
import keyguard.lang.diag.Code;
import keyguard.lang.diag.Diagnostic;
import keyguard.lang.diag.Diagnostics;
import keyguard.lang.syntax.Item;
import keyguard.lang.syntax.Value;
import keyguard.policy.ir.Builtin;
import keyguard.policy.ir.Type;

/**
 * The functions conditions may call besides the built-ins: the deployment's plugin
 * functions and the {@code function js} declarations of the policy directory, whose
 * sources are among the directory's other files. Declaring starts the shared JavaScript
 * engine only when there is something to declare.
 */
public final class FunctionScope implements AutoCloseable {
    private static final Set<String> TYPES = Set.of("string", "int", "bool");

    private final FunctionLibrary plugins;
    private final Map<String, byte[]> files = new HashMap<>();
    private final Map<String, FunctionRef> declared = new LinkedHashMap<>();
    private JsModule scripts;

    /** @param files the other files of the policy directory, by path as read ({@code policies/functions/risk.js}) */
    public FunctionScope(FunctionLibrary plugins, Map<String, byte[]> files) {
        this.plugins = plugins;
        for (Map.Entry<String, byte[]> f : files.entrySet()) this.files.put(normal(f.getKey()), f.getValue());
    }

    /** A declared or plugin function, or null. */
    FunctionRef lookup(String name) {
        FunctionRef f = declared.get(name);
        return f != null ? f : plugins.get(name);
    }

    /** Every callable name besides the built-ins, for "did you mean". */
    List<String> names() {
        List<String> out = new ArrayList<>(declared.keySet());
        out.addAll(plugins.functions().keySet());
        return out;
    }

    /** The JavaScript functions of the set, or null when it declares none. */
    JsModule scripts() { return scripts; }

    @Override
    public void close() {
        if (scripts != null) scripts.close();
    }

    void declare(Collection<Item.Function> decls, Diagnostics diagnostics) {
        declare(decls, diagnostics, java.util.Set.of());
    }

    /**
     * Declares the functions; {@code teamFiles} are the paths (as read) of the files teams
     * own: a function declared in an operator's file must not run a team's code.
     */
    void declare(Collection<Item.Function> decls, Diagnostics diagnostics, java.util.Set<String> teamFiles) {
        long errorsBefore = diagnostics.errorCount();
        List<JsModule.Declaration> js = new ArrayList<>();
        Map<String, Item.Function> byName = new HashMap<>();
        Map<String, String> sources = new LinkedHashMap<>();
        for (Item.Function f : decls) {
            String name = f.name().text();
            if (!f.language().text().equals("js")) {
                diagnostics.add(Diagnostic.error(Code.KG0801, f.language().span(), "unknown function language `" + f.language().text() + "`")
                        .label("the language of a declared function")
                        .help("functions are written in JavaScript: `function js " + name + "(...)`; Java functions come from plugin jars"));
                continue;
            }
            if (Builtin.byWord(name) != null || plugins.get(name) != null) {
                diagnostics.add(Diagnostic.error(Code.KG0803, f.name().span(), "`" + name + "` is already a "
                                + (Builtin.byWord(name) != null ? "built-in function" : "function of " + plugins.get(name).origin()))
                        .label("name taken")
                        .help("function names are global; choose another name"));
                continue;
            }
            List<Type> params = new ArrayList<>();
            boolean ok = true;
            for (Item.Param p : f.params()) {
                Type t = type(p.type().text());
                if (t == null) {
                    ok = typeError(diagnostics, p.type());
                } else if (p.defaultValue() != null) {
                    diagnostics.add(Diagnostic.error(Code.KG0801, p.defaultValue().span(), "function parameters have no defaults")
                            .label("default value")
                            .help("every call passes every argument"));
                    ok = false;
                }
                params.add(t);
            }
            Type result = type(f.result().text());
            if (result == null) ok = typeError(diagnostics, f.result());
            String file = file(f, diagnostics);
            if (!ok || file == null) continue;
            byte[] bytes = files.get(file);
            String text = bytes == null ? null : utf8(bytes);
            if (text == null) {
                String written = ((Value.Call) f.body()).arg().value();
                diagnostics.add(Diagnostic.error(Code.KG0802, f.body().span(), bytes == null ? "no file `" + written + "` in the policy directory"
                                : "`" + written + "` is not valid UTF-8")
                        .label(bytes == null ? "looked for " + file : "JavaScript sources must be UTF-8")
                        .help(bytes == null ? "the path is relative to this .kgp file and must stay inside the policy directory" : ""));
                continue;
            }
            boolean operatorDecl = !teamFiles.contains(f.span().file().path());
            if (operatorDecl && teamFiles.stream().anyMatch(t -> normal(t).equals(file))) {
                diagnostics.add(Diagnostic.error(Code.KG0605, f.body().span(), "function `" + name + "` of the operator runs a team's file")
                        .label(file + " is outside the operator's folder")
                        .help("move the JavaScript file next to the declaration, in the operator's folder"));
                continue;
            }
            sources.put(file, text);
            js.add(new JsModule.Declaration(name, file, List.copyOf(params), result));
            byName.put(name, f);
        }
        // Only this method's own errors stop here: an unrelated mistake elsewhere must not
        // turn every call of a good function into "unknown function".
        if (js.isEmpty() || diagnostics.errorCount() > errorsBefore) return;
        List<JsModule.Problem> problems = new ArrayList<>();
        JsModule module = JsModule.open(JsEngine.shared(), sources, js, problems);
        for (JsModule.Problem p : problems) {
            Item.Function f = byName.get(p.declaration().name());
            diagnostics.add(Diagnostic.error(Code.KG0802, f.body().span(), p.message())
                    .label("in " + p.declaration().file())
                    .help("test the function with `keyguard test` once it loads"));
        }
        if (!problems.isEmpty()) return;
        scripts = module;
        for (FunctionRef r : module.functions()) declared.put(r.name(), r);
    }

    private static boolean typeError(Diagnostics diagnostics, keyguard.lang.syntax.Name type) {
        diagnostics.add(Diagnostic.error(Code.KG0801, type.span(), "functions do not take or return `" + type.text() + "`")
                .label("unsupported type")
                .help(Suggestions.didYouMean(type.text(), TYPES, "function types are `string`, `int` and `bool`")));
        return false;
    }

    private static Type type(String word) {
        return switch (word) {
            case "string" -> Type.STRING;
            case "int" -> Type.INT;
            case "bool" -> Type.BOOL;
            default -> null;
        };
    }

    /** The normalised path of {@code file("...")}, relative to the declaring file, or null after a diagnostic. */
    private static String file(Item.Function f, Diagnostics diagnostics) {
        if (!(f.body() instanceof Value.Call c) || !c.function().text().equals("file") || !c.arg().value().endsWith(".js")) {
            diagnostics.add(Diagnostic.error(Code.KG0801, f.body().span(), "the body of a function is `file(\"path.js\")`")
                    .label("not a JavaScript file")
                    .help("write `function js " + f.name().text() + "(...) -> ... = file(\"functions/" + f.name().text() + ".js\")`"));
            return null;
        }
        Path base = Path.of(f.span().file().path()).getParent();
        Path p = base == null ? Path.of(c.arg().value()) : base.resolve(c.arg().value());
        return normal(p.toString());
    }

    private static String normal(String path) {
        return Path.of(path).normalize().toString();
    }

    private static String utf8(byte[] bytes) {
        try {
            return StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(bytes)).toString();
        } catch (CharacterCodingException e) {
            return null;
        }
    }
}
