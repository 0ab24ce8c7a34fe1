namespace Eurus.Cpu.Tests.Grammars;

/// <summary>
/// Grammars in the style of llama.cpp's well-known examples (json, arithmetic, list, a small C-like language, chess
/// moves), written for these tests, with texts each must accept and reject.
/// </summary>
internal static class GrammarCorpus
{
    public const string Json = """
        # A JSON value, the way llama.cpp's json.gbnf is laid out.
        root   ::= object
        value  ::= object | array | string | number | ("true" | "false" | "null") ws

        object ::=
          "{" ws (
                    string ":" ws value
            ("," ws string ":" ws value)*
          )? "}" ws

        array  ::=
          "[" ws (
                    value
            ("," ws value)*
          )? "]" ws

        string ::=
          "\"" (
            [^"\\\x7F\x00-\x1F] |
            "\\" (["\\/bfnrt] | "u" [0-9a-fA-F]{4}) # escapes
          )* "\"" ws

        number ::= ("-"? ([0-9] | [1-9] [0-9]{0,15})) ("." [0-9]+)? ([eE] [-+]? [0-9] [1-9]{0,15})? ws

        # Optional space: limited, as llama.cpp does, so the model cannot loop on it.
        ws ::= | " " | "\n" [ \t]{0,20}
        """;

    public const string Arithmetic = """
        root  ::= (expr "=" ws term "\n")+
        expr  ::= term ([-+*/] term)*
        term  ::= ident | num | "(" ws expr ")" ws
        ident ::= [a-z] [a-z0-9_]* ws
        num   ::= [0-9]+ ws
        ws    ::= [ \t\n]*
        """;

    public const string List = """
        root ::= item+
        # Excludes various line break characters
        item ::= "- " [^\r\n\x0b\x0c\x85\u2028\u2029]+ "\n"
        """;

    public const string CLike = """
        root ::= (declaration)*

        declaration ::= dataType identifier "(" parameter? ")" "{" statement* "}"

        dataType  ::= "int" ws | "float" ws | "char" ws
        identifier ::= [a-zA-Z_] [a-zA-Z_0-9]*

        parameter ::= dataType identifier

        statement ::=
            ( dataType identifier ws "=" ws expression ";" ) |
            ( identifier ws "=" ws expression ";" ) |
            ( identifier ws "(" argList? ")" ";" ) |
            ( "return" ws expression ";" ) |
            ( "while" "(" condition ")" "{" statement* "}" ) |
            ( "for" "(" forInit ";" ws condition ";" ws forUpdate ")" "{" statement* "}" ) |
            ( "if" "(" condition ")" "{" statement* "}" ("else" "{" statement* "}")? ) |
            ( singleLineComment ) |
            ( multiLineComment )

        forInit ::= dataType identifier ws "=" ws expression | identifier ws "=" ws expression
        forUpdate ::= identifier ws "=" ws expression

        condition ::= expression relationOperator expression
        relationOperator ::= ("<=" | "<" | "==" | "!=" | ">=" | ">")

        expression ::= term (("+" | "-") term)*
        term ::= factor(("*" | "/") factor)*

        factor ::= identifier | number | unaryTerm | funcCall | parenExpression
        unaryTerm ::= "-" factor
        funcCall ::= identifier "(" argList? ")"
        parenExpression ::= "(" ws expression ws ")"

        argList ::= expression ("," ws expression)*

        number ::= [0-9]+

        singleLineComment ::= "//" [^\n]* "\n"
        multiLineComment ::= "/*" ( [^*] | ("*" [^/]) )* "*/"

        ws ::= ([ \t\n]+)
        """;

    public const string Chess = """
        root   ::= "1. " move " " move "\n" ([1-9] [0-9]? ". " move " " move "\n")+
        move   ::= (pawn | nonpawn | castle) [+#]?
        pawn   ::= ([a-h] "x")? [a-h] [1-8] ("=" [QRBN])?
        nonpawn ::= [NBKQR] [a-h]? [1-8]? "x"? [a-h] [1-8]
        castle ::= "O-O" "-O"?
        """;

    public static readonly (string Name, string Grammar, string[] Accept, string[] Reject)[] Cases =
    [
        ("json", Json,
            ["{}", "{\"a\": 1}", "{\"a\": [1, 2.5, -3e12, true, null], \"b\": {\"c\": \"d\\n\\u00e9\"}}", "{ \"ünï\": \"cödé ✓ 😀\" }\n  "],
            ["", "{", "{\"a\" 1}", "{\"a\": 01x}", "[1]", "{\"a\": \"\n\"}", "{} {}", "{\"a\": tru}"]),
        ("arithmetic", Arithmetic,
            ["1+2=3\n", "(a +b) *c = x\n1=1\n", "foo_1 /(2 -bar) = 0\n"],
            ["", "1+2=3", "+1=1\n", "(1=1\n", "A=1\n"]),
        ("list", List,
            ["- apples\n", "- one\n- two\n- three\n"],
            ["", "- \n", "apples\n", "- a\r\n", "- a"]),
        ("c-like", CLike,
            ["", "int main(){return 0;}", "int f(int x){int y = x*2+1;while(y>0){y = y-1;}return y;}", "float g(){// hi\nreturn -1;}",
             "char h(){/* a * b */if(1<2){x = f(1, 2);}else{}}"],
            ["int main(){return 0}", "main(){}", "int f(){x = ;}", "int f(){/* open"]),
        ("chess", Chess,
            ["1. e4 e5\n2. Nf3 Nc6\n", "1. d4 d5\n2. c4 dxc4\n3. O-O-O Qxd8#\n"],
            ["1. e4 e5\n", "1. e9 e5\n2. a1 a2\n", "1. Ze4 e5\n2. a1 a2\n"]),
        ("repetition", """
            root ::= "a"{2} "b"{1,3} "c"{2,} d?
            d ::= [0-9]{0,2} "!"
            """,
            ["aabcc", "aabbbccc", "aabcccccc7!", "aabcc!", "aabcc42!"],
            ["abcc", "aabbbbcc", "aabc", "aabcc123!"]),
        ("escapes", """
            root ::= "\x41\u00e9\t" [\x30-\x39] [^\]a] "\"" [\-] "\\" .
            """,
            ["Aé\t5b\"-\\x", "Aé\t0c\"-\\😀"],
            ["Aé\t5]\"-\\x", "Aé\t5a\"-\\x", "Aé 5b\"-\\x", "Aé\t5b\"-\\"]),
        ("groups and comments", """
            root ::= ( "x" | "y" ( "z" | ) )+ # a comment ( with " quotes
              # a comment line
            """,
            ["x", "yz", "yxyzx"],
            ["", "z", "xw"]),
        ("nested parentheses across lines", """
            root ::= (
                "a" |
                "b"
              ) "c"
            """,
            ["ac", "bc"],
            ["c", "abc"]),
        ("unicode ranges", """
            root ::= [α-ω]+ " " [\U0001F600-\U0001F64F]
            """,
            ["αβγ 😀", "ω 🙏"],
            ["a 😀", "αβγ ☺"]),
    ];

    /// <summary>Bad grammars, with the line and column of the problem and a word the message must contain.</summary>
    public static readonly (string Grammar, int Line, int Column, string Message)[] Errors =
    [
        ("root ::= \"a\" undefined-rule", 1, 14, "'undefined-rule' is used but not defined"),
        ("a ::= \"x\"", 1, 1, "no 'root' rule"),
        ("root ::= \"abc", 1, 10, "unterminated string"),
        ("root ::= [a-z", 1, 10, "unterminated character class"),
        ("root ::= \"a\"\n\nitem ::= (\"b\" | \"c\"", 3, 20, "expected ')'"),
        ("root ::= \"a\"\nitem \"b\"", 2, 6, "expected '::='"),
        ("root ::= * \"a\"", 1, 10, "must follow an item"),
        ("root ::= \"a\"{3,1}", 1, 13, "maximum below its minimum"),
        ("root ::= \"\\q\"", 1, 11, "unknown escape"),
        ("root ::= \"\\x4\"", 1, 11, "hex digits"),
        ("root ::= [z-a]", 1, 13, "backwards"),
        ("root ::= \"a\"\nroot ::= \"b\"", 2, 1, "defined twice"),
        ("root ::= expr\nexpr ::= expr \"+\" term | term\nterm ::= [0-9]", 2, 1, "left recursion: rule 'expr'"),
        ("root ::= a\na ::= b? a \"x\" | \"y\"\nb ::= \"z\"", 2, 1, "left recursion"),
        ("root ::= (\"a\"?)*", 1, 16, "left recursion"),
        ("root ::= \"a\" root", 1, 1, "can never complete"),
        ("root ::= x\nx ::= \"(\" x \")\"", 1, 1, "can never complete"),
        ("root ::= \"a\" | b\nb ::= \"(\" b \")\"", 2, 1, "can never complete through rule 'b'"),
        ("root ::= \"a\" )", 1, 14, "unexpected ')'"),
        ("root ::= \"a\"{100000}", 1, 14, "repetition count"),
        ("", 1, 1, "no 'root' rule"),
        ("root ::= " + new string('(', 300) + "\"a\"" + new string(')', 300), 1, 266, "nested deeper than 256"),
        ("root ::= " + string.Concat(Enumerable.Repeat("[a-z]{9999} ", 300)), 1, 2403, "more than 2000000 elements"),
    ];
}
