/*
 * The Keyguard policy language (.kgp), v1.
 *
 * The grammar is deliberately lenient about soft words (`usd`, `hard`, `key`, `deny`,
 * `allow`, units, property names): they parse as identifiers and the checker validates
 * them, so a typo becomes a diagnostic with a code and a "did you mean" instead of a
 * parser error. Structural words that start a declaration or a statement are keywords.
 *
 * Nothing here reaches a user raw: keyguard.lang.parse.KgpParserFacade turns every
 * syntax error into a KGnnnn diagnostic with a span.
 */
grammar Kgp;

file : item* EOF ;

item
  : providerDecl
  | modelDecl
  | templateDecl
  | policyDecl
  | testsDecl
  | detectorDecl
  | functionDecl
  | labelDecl
  | orgDecl
  | teamDecl
  | channelDecl
  ;

// ---------------------------------------------------------------- providers and models

providerDecl : PROVIDER name=ident LBRACE setting* RBRACE ;

modelDecl : MODEL name=STRING LBRACE modelItem* RBRACE ;

detectorDecl : DETECTOR name=STRING LBRACE setting* RBRACE ;

// label env { set_by operator  values ["prod", "staging"] }: a key label rules may read,
// and who may set it on a key.
labelDecl : LABEL name=ident LBRACE setting* RBRACE ;

// The organisation, the operator's: org units and the teams in them, each with its own
// limits and budgets, shared by every key of the unit or team.
// org engineering { budget 10_000 usd per month hard }
// team search { org engineering  groups ["search-eng"]  budget 3_000 usd per month hard }
orgDecl : ORG name=ident LBRACE orgItem* RBRACE ;

teamDecl : TEAM name=ident LBRACE orgItem* RBRACE ;

orgItem : statement | setting ;

// channel ops { kind webhook  url "https://hooks.example.com/keyguard"  secret env("KEYGUARD_CHANNEL_OPS") }:
// where alerts go. The operator's.
channelDecl : CHANNEL name=ident LBRACE setting* RBRACE ;

modelItem
  : PRICE priceTerm (COMMA priceTerm)*        # priceItem
  | setting                                    # settingItem
  ;

priceTerm : direction=ident amount=number currency=ident PER per=(SUFFIXED | INT) unit=ident ;

setting : name=ident value ;

value
  : STRING                                     # stringValue
  | number                                     # numberValue
  | SUFFIXED                                   # suffixedValue
  | ident LPAREN STRING RPAREN                 # callValue
  | ident                                      # wordValue
  | listLiteral                                # listValue
  ;

// ---------------------------------------------------------------- functions

// function js risk_score(model: string, tokens: int) -> int = file("functions/risk.js")
functionDecl : FUNCTION lang=ident name=ident LPAREN (param (COMMA param)*)? COMMA? RPAREN ARROW result=ident ASSIGN value ;

// ---------------------------------------------------------------- templates and policies

templateDecl : TEMPLATE name=ident LPAREN (param (COMMA param)*)? COMMA? RPAREN body ;

param : name=ident COLON type=ident (ASSIGN expr)? ;

policyDecl : POLICY name=ident (ASSIGN base=ident LPAREN (arg (COMMA arg)*)? COMMA? RPAREN)? body? ;

arg : name=ident COLON expr ;

body : LBRACE statement* RBRACE ;

statement
  : TAGS LBRACE (tagEntry (COMMA? tagEntry)*)? COMMA? RBRACE                           # tagsStmt
  | OVERRIDE? MODELS verb=ident PLUS_ASSIGN? list=listLiteral                                    # modelsStmt
  | OVERRIDE? LIMIT metric=ident amount=quantity (PER window=durationWord)? (BY scope=ident)?
        (FAIL failMode=ident)? (onExcess=ident)? alertClause?                                   # limitStmt
  | OVERRIDE? ALLOW PARAMS list=listLiteral                                             # paramsStmt
  | OVERRIDE? ALLOW TAGS LBRACE (requestTag (COMMA? requestTag)*)? COMMA? RBRACE          # requestTagsStmt
  | OVERRIDE? END_USERS LBRACE setting* RBRACE                                          # endUsersStmt
  | OVERRIDE? BUDGET amount=quantity currency=ident PER period=ident kind=ident?
        (WARN AT PERCENT)? (BY scope=ident)? alertClause?                               # budgetStmt
  | OVERRIDE? DATA level=ident cls=ident (ON violation=ident action=ident target=STRING?)? # dataStmt
  | ZONE STRING                                                                         # zoneStmt
  | OVERRIDE? DEFAULT what=ident amount=quantity                                        # defaultStmt
  | OVERRIDE? DELEGATE maxWord=ident max=quantity (depthWord=ident depth=quantity)?     # delegateStmt
  | OVERRIDE? ON event=ident action=ident                                              # onStmt
  | annotation* FORBID WHEN cond=block (UNLESS exc=block)?                              # forbidStmt
  ;

tagEntry : key=mapKey COLON expr ;

// alert ops at 50%, 80%, 100%  (a budget)   |   alert ops after 20  (a limit: refusals in an hour)
alertClause : ALERT channel=ident (AT PERCENT (COMMA PERCENT)* | after=ident count=INT) ;

// allow tags { project required in ["alpha", "beta"]  "cost-centre" required  env in ["dev", "prod"] }
requestTag : key=mapKey (presence=ident)? (IN values=listLiteral)? ;

annotation : AT_SIGN name=ident LPAREN STRING RPAREN ;

block : LBRACE expr RBRACE ;

quantity : number | ident ;

durationWord : SUFFIXED | ident ;

// ---------------------------------------------------------------- tests

testsDecl : TESTS name=ident LBRACE testCase* RBRACE ;

testCase : TEST name=STRING LBRACE testClause* RBRACE ;

testClause
  : EXPECT outcome=ident (BY ruleId=STRING)? (TAGS tags=mapLiteral)?   # expectClause
  | AT instant=STRING                                               # atClause
  | section=ident mapLiteral                                        # sectionClause
  ;

mapLiteral : LBRACE (mapEntry (COMMA? mapEntry)*)? COMMA? RBRACE ;

mapEntry : key=mapKey COLON expr ;

mapKey : STRING | ident (DOT (ident | SUFFIXED | INT))* ;

// ---------------------------------------------------------------- expressions

expr
  : BANG expr                                          # notExpr
  | MINUS expr                                         # negExpr
  | expr DOTDOT expr                                   # rangeExpr
  | expr op=(LT | LE | GT | GE) expr                   # compareExpr
  | expr op=(EQ | NE) expr                             # equalityExpr
  | expr IN expr                                       # inExpr
  | expr AND expr                                      # andExpr
  | expr OR expr                                       # orExpr
  | primary                                            # primaryExpr
  ;

primary
  : literal                                            # literalPrimary
  | LPAREN expr RPAREN                                 # parenPrimary
  | listLiteral                                        # listPrimary
  | ident LPAREN (expr (COMMA expr)*)? RPAREN          # callPrimary
  | ident (DOT (ident | SUFFIXED | INT))*              # pathPrimary
  | primary LBRACK expr RBRACK                         # indexPrimary
  ;

listLiteral : LBRACK (expr (COMMA expr)*)? COMMA? RBRACK ;

literal : STRING | number | TRUE | FALSE ;

number : INT | DECIMAL ;

// Words that are keywords somewhere but may also name things or start a path.
ident : IDENT | MODEL | PROVIDER | POLICY | TEMPLATE | TEST | TESTS | DATA | TAGS | MODELS
      | LIMIT | BUDGET | ZONE | WHEN | UNLESS | EXPECT | DEFAULT | DETECTOR | FUNCTION | LABEL | ALLOW | PARAMS | ORG | TEAM | END_USERS | CHANNEL | ALERT | DELEGATE ;

// ---------------------------------------------------------------- lexer

PROVIDER : 'provider' ;
MODEL    : 'model' ;
MODELS   : 'models' ;
TEMPLATE : 'template' ;
POLICY   : 'policy' ;
TESTS    : 'tests' ;
TEST     : 'test' ;
TAGS     : 'tags' ;
LIMIT    : 'limit' ;
BUDGET   : 'budget' ;
DATA     : 'data' ;
FORBID   : 'forbid' ;
WHEN     : 'when' ;
UNLESS   : 'unless' ;
OVERRIDE : 'override' ;
PRICE    : 'price' ;
EXPECT   : 'expect' ;
ZONE     : 'zone' ;
DEFAULT  : 'default' ;
DETECTOR : 'detector' ;
FUNCTION : 'function' ;
LABEL    : 'label' ;
ALLOW    : 'allow' ;
PARAMS   : 'params' ;
ORG      : 'org' ;
TEAM     : 'team' ;
END_USERS : 'end_users' ;
CHANNEL  : 'channel' ;
ALERT    : 'alert' ;
DELEGATE : 'delegate' ;
WARN     : 'warn' ;
FAIL     : 'fail' ;
ON       : 'on' ;
AT       : 'at' ;
BY       : 'by' ;
PER      : 'per' ;
IN       : 'in' ;
TRUE     : 'true' ;
FALSE    : 'false' ;

LBRACE : '{' ;
RBRACE : '}' ;
LPAREN : '(' ;
RPAREN : ')' ;
LBRACK : '[' ;
RBRACK : ']' ;
COMMA  : ',' ;
COLON  : ':' ;
DOTDOT : '..' ;
DOT    : '.' ;
AT_SIGN : '@' ;
PLUS_ASSIGN : '+=' ;
ARROW  : '->' ;
EQ     : '==' ;
NE     : '!=' ;
LE     : '<=' ;
GE     : '>=' ;
LT     : '<' ;
GT     : '>' ;
ASSIGN : '=' ;
AND    : '&&' ;
OR     : '||' ;
BANG   : '!' ;
MINUS  : '-' ;

PERCENT  : DIGITS ('.' DIGITS)? '%' ;
DECIMAL  : DIGITS '.' DIGITS ;
SUFFIXED : DIGITS [a-zA-Z]+ ;   // units are checked where the value is used
INT      : DIGITS ;
fragment DIGITS : [0-9] [0-9_]* ;

IDENT : [a-zA-Z_] [a-zA-Z_0-9]* ;

STRING : '"' ( ~["\\\r\n] | '\\' ~[\r\n] )* '"' ;
UNTERMINATED_STRING : '"' ( ~["\\\r\n] | '\\' ~[\r\n] )* ;

LINE_COMMENT  : '//' ~[\r\n]* -> channel(2) ;
BLOCK_COMMENT : '/*' .*? '*/' -> channel(2) ;
// Cannot extend past a `*/`, so it only wins when the comment is really never closed.
UNTERMINATED_COMMENT : '/*' ( ~'*' | '*'+ ~[*/] )* '*'* EOF ;

WS : [ \t\r\n\f\uFEFF]+ -> channel(HIDDEN) ;

// Anything else becomes a token the parser cannot use, so the lexer itself never fails
// and every bad character is reported once, with its position, by the parser facade.
ERROR_CHAR : . ;
