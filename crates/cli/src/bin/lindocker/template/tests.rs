//! The evaluator against what Go's text/template prints for the same template and data.

use serde_json::json;

use super::*;

fn data() -> serde_json::Value {
    json!({
        "Name": "/web",
        "State": {"Status": "running", "Pid": 42, "Running": true, "ExitCode": 0, "Health": null},
        "Config": {"Env": ["A=1", "B=2"], "Labels": {"b": "2", "a": "1"}, "Cmd": null},
        "Mounts": [{"Source": "/src", "Destination": "/dst"}, {"Source": "/s2", "Destination": "/d2"}],
        "Count": 3,
        "Ratio": 0.25,
        "Empty": "",
    })
}

const SCHEMA: Schema<'static> =
    &[("Config.Labels", Kind::StrMap), ("State.Health", Kind::Ptr), ("Config.Cmd", Kind::Slice)];

fn render(t: &str) -> String {
    match Template::parse(t).and_then(|t| t.execute(&Val::from_json(&data(), SCHEMA))) {
        Ok(s) => s,
        Err(e) => format!("ERR {e}"),
    }
}

#[test]
fn fields_and_printing() {
    assert_eq!(render("{{.Name}} {{.State.Pid}} {{.State.Running}}"), "/web 42 true");
    assert_eq!(render("{{.Config.Env}}"), "[A=1 B=2]");
    assert_eq!(render("{{.Config.Labels}}"), "map[a:1 b:2]");
    assert_eq!(render("{{.Config.Labels.a}}|{{.Config.Labels.zz}}"), "1|<no value>");
    assert_eq!(render("{{.State.Health}}|{{.Config.Cmd}}"), "<nil>|[]");
    assert_eq!(render("{{.Mounts}}"), "[{/dst /src} {/d2 /s2}]");
    assert_eq!(render("{{printf \"%+v\" (index .Mounts 0)}}"), "{Destination:/dst Source:/src}");
    assert_eq!(render("{{.Ratio}}"), "0.25");
    assert_eq!(
        render("{{json .Config.Labels}} {{json .Config.Cmd}} {{json .Name}}"),
        r#"{"a":"1","b":"2"} null "/web""#
    );
    assert!(render("{{.}}").len() > 10);
}

#[test]
fn control_structures() {
    assert_eq!(render("{{range .Mounts}}{{.Source}}:{{.Destination}} {{end}}"), "/src:/dst /s2:/d2 ");
    assert_eq!(render("{{range $i, $m := .Mounts}}{{$i}}={{$m.Source}},{{end}}"), "0=/src,1=/s2,");
    assert_eq!(render("{{range $k, $v := .Config.Labels}}{{$k}}{{$v}};{{end}}"), "a1;b2;");
    assert_eq!(render("{{range .Config.Cmd}}x{{else}}none{{end}}"), "none");
    assert_eq!(
        render("{{range $m := .Mounts}}{{if eq $m.Source \"/s2\"}}{{break}}{{end}}{{$m.Source}}{{end}}"),
        "/src"
    );
    assert_eq!(render("{{range .Mounts}}{{if eq .Source \"/src\"}}{{continue}}{{end}}{{.Source}}{{end}}"), "/s2");
    assert_eq!(render("{{range 3}}{{.}}{{end}}"), "012");
    assert_eq!(render("{{if .Empty}}a{{else if .State.Running}}b{{else}}c{{end}}"), "b");
    assert_eq!(render("{{if not .State.Running}}a{{else if eq .Count 2}}b{{else}}c{{end}}"), "c");
    assert_eq!(render("{{with .State}}{{.Status}}{{end}}{{with .Empty}}x{{else}}y{{end}}"), "runningy");
    assert_eq!(render("{{with .Empty}}x{{else with .Name}}{{.}}{{end}}"), "/web");
    assert_eq!(render("{{define \"t\"}}[{{.}}]{{end}}{{template \"t\" .Name}}"), "[/web]");
    assert_eq!(render("{{block \"b\" .Count}}<{{.}}>{{end}}"), "<3>");
}

#[test]
fn variables_pipelines_comments_trim() {
    assert_eq!(render("{{$x := .Name}}{{$x}} {{$x = \"y\"}}{{$x}}"), "/web y");
    assert!(!render("{{$}}").is_empty());
    assert_eq!(render("{{range .Mounts}}{{$.Name}}{{end}}"), "/web/web");
    assert_eq!(render("{{.Name | printf \"%s!\" | upper}}"), "/WEB!");
    assert_eq!(render("{{(index .Mounts 1).Source}} {{len (index .Config.Env 0)}}"), "/s2 3");
    assert_eq!(render("a {{/* comment */}} b"), "a  b");
    assert_eq!(render("a {{- /* comment */ -}} b"), "ab");
    assert_eq!(render("x\n  {{- .Name -}}  \ny"), "x/weby");
    assert_eq!(render("{{- 3 -}}"), "3");
    assert_eq!(render("{{-3}}"), "-3");
}

#[test]
fn builtins() {
    assert_eq!(render("{{and 1 0 2}} {{or 0 \"\" 5}} {{and 1 2}} {{or 0 \"\"}}"), "0 5 2 ");
    assert_eq!(
        render("{{eq .Count 1 2 3}} {{ne .Name \"x\"}} {{lt 1 2}} {{le 2 2}} {{gt \"b\" \"a\"}} {{ge 1 2}}"),
        "true true true true true false"
    );
    assert_eq!(render("{{len .Mounts}} {{len .Config.Labels}} {{len .Name}}"), "2 2 4");
    assert_eq!(
        render("{{index .Config.Labels \"a\"}}|{{index .Config.Labels \"zz\"}}|{{index .Config.Env 1}}"),
        "1||B=2"
    );
    assert_eq!(render("{{slice .Name 1 3}} {{slice .Config.Env 1}}"), "we [B=2]");
    assert_eq!(render("{{print \"a\" 1 2 \"b\"}}|{{println 1 \"x\"}}|"), "a1 2b|1 x\n|");
    assert_eq!(render("{{printf \"%05.1f|%-4d|%q\" .Ratio .Count .Name}}"), "000.2|3   |\"/web\"");
    assert_eq!(render("{{html \"<b>\"}} {{js \"a'b\"}} {{urlquery \"a b\"}}"), "&lt;b&gt; a\\'b a+b");
    assert_eq!(render("{{print nil}}"), "<nil>");
}

#[test]
fn docker_functions() {
    assert_eq!(render("{{join .Config.Env \",\"}}"), "A=1,B=2");
    assert_eq!(render("{{range split \"a:b:c\" \":\"}}[{{.}}]{{end}}"), "[a][b][c]");
    assert_eq!(
        render("{{upper .State.Status}} {{lower \"ABC\"}} {{title \"hello world\"}}"),
        "RUNNING abc Hello World"
    );
    assert_eq!(render("{{truncate .State.Status 3}}|{{pad .Name 2 1}}|"), "run|  /web |");
    assert_eq!(
        render("{{json .Mounts}}"),
        r#"[{"Destination":"/dst","Source":"/src"},{"Destination":"/d2","Source":"/s2"}]"#
    );
}

#[test]
fn errors_have_positions() {
    assert_eq!(render("{{.Nope}}"), r#"ERR template: :1:2: executing "" at <.Nope>: map has no entry for key "Nope""#);
    assert_eq!(
        render("{{.State.Health.Status}}"),
        r#"ERR template: :1:8: executing "" at <.State.Health.Status>: map has no entry for key "Health""#
    );
    assert_eq!(render("{{.Name"), "ERR template: :1: unclosed action");
    assert_eq!(render("{{nope .Name}}"), r#"ERR template: :1: function "nope" not defined"#);
    assert_eq!(render("{{if .Name}}x"), "ERR template: :1: unexpected EOF");
    assert_eq!(render("{{end}}"), "ERR template: :1: unexpected {{end}}");
    assert_eq!(render("{{$x}}"), r#"ERR template: :1: undefined variable "$x""#);
    assert_eq!(render("{{if}}{{end}}"), "ERR template: :1: missing value for if");
    assert_eq!(
        render("a\n{{index .Mounts 5}}"),
        r#"ERR template: :2:2: executing "" at <index .Mounts 5>: error calling index: index out of range: 5"#
    );
    assert_eq!(
        render("{{upper .Count}}"),
        r#"ERR template: :1:2: executing "" at <upper>: wrong type for value; expected string; got int"#
    );
    assert_eq!(
        render("{{.Name.X}}"),
        r#"ERR template: :1:7: executing "" at <.Name.X>: can't evaluate field X in type string"#
    );
    assert_eq!(
        render("{{range .Name}}{{end}}"),
        r#"ERR template: :1:8: executing "" at <.Name>: range can't iterate over /web"#
    );
    assert_eq!(render("{{break}}"), "ERR template: :1: {{break}} outside {{range}}");
    assert_eq!(render("{{.Name | \"x\"}}"), "ERR template: :1: non executable command in pipeline stage 2");
}

#[test]
fn text_without_actions_and_limits() {
    assert_eq!(render("plain } { text"), "plain } { text");
    assert!(render("{{range 1000000000}}{{.}}{{end}}").starts_with("ERR"));
    let deep = format!("{}1{}", "(".repeat(500), ")".repeat(500));
    assert!(render(&format!("{{{{{deep}}}}}")).starts_with("ERR"));
}

#[test]
fn lookup_methods() {
    let labels = [("com.x".to_owned(), "y".to_owned())].into_iter().collect();
    let row = Val::Struct([("Label".to_owned(), Val::Lookup(labels))].into_iter().collect());
    let t = Template::parse(r#"{{.Label "com.x"}}|{{.Label "nope"}}"#).unwrap();
    assert_eq!(t.execute(&row).unwrap(), "y|");
}

#[test]
fn recursion_is_bounded() {
    assert!(render(r#"{{define "a"}}{{template "a"}}{{end}}{{template "a"}}"#).contains("maximum template depth"));
    assert!(render(&"{{if 1}}".repeat(1000)).contains("max expression depth exceeded"));
}

/// Property tests: any template over any value parses and runs without panicking or
/// hanging; text without actions comes out as it went in.
mod prop {
    use proptest::prelude::*;
    use serde_json::{Map, Value, json};

    use super::super::*;

    fn value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|n| json!(n)),
            any::<f64>().prop_map(|n| json!(n)),
            "\\PC{0,12}".prop_map(Value::String),
        ];
        leaf.prop_recursive(3, 32, 6, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                proptest::collection::btree_map("[abAB]{1,2}", inner, 0..5)
                    .prop_map(|m| Value::Object(m.into_iter().collect::<Map<_, _>>())),
            ]
        })
    }

    /// Template-ish text: delimiters, keywords, fields, functions and literals.
    fn template() -> impl Strategy<Value = String> {
        let parts: Vec<&'static str> = vec![
            "{{",
            "}}",
            "{{- ",
            " -}}",
            "{{/*",
            "*/}}",
            ".",
            ".a",
            ".A.b",
            "$",
            "$x",
            ":=",
            "=",
            "|",
            "(",
            ")",
            ",",
            " ",
            "if ",
            "else ",
            "end",
            "range ",
            "with ",
            "break",
            "continue",
            "define \"t\"",
            "template \"t\" ",
            "block \"b\" .",
            "len ",
            "index ",
            "slice ",
            "printf \"%v %d %5.2f %q\" ",
            "print ",
            "println ",
            "eq ",
            "lt ",
            "and ",
            "or ",
            "not ",
            "json ",
            "join ",
            "split ",
            "upper ",
            "title ",
            "truncate ",
            "pad ",
            "html ",
            "js ",
            "urlquery ",
            "call ",
            "1",
            "-2",
            "3.5",
            "0x1F",
            "'a'",
            "\"s\"",
            "`r`",
            "nil",
            "true",
        ];
        proptest::collection::vec(
            prop_oneof![proptest::sample::select(parts).prop_map(str::to_owned), "\\PC{1,3}"],
            0..24,
        )
        .prop_map(|p| p.concat())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn never_panics(t in template(), v in value()) {
            let _ = render_template(&t, &v);
            if let Ok(parsed) = Template::parse(&t) {
                let _ = parsed.execute_header(&Val::from_json(&v, &[]));
            }
        }

        #[test]
        fn text_without_actions_is_copied(t in "[^{]{0,40}(\\{[^{]{0,5})?", v in value()) {
            prop_assert_eq!(render_template(&t, &v), Ok(t));
        }

        #[test]
        fn fields_render_their_value(a in "[abAB]{1,2}", s in "[^{}]{0,10}") {
            let v = json!({ a.clone(): s.clone() });
            prop_assert_eq!(render_template(&format!("<{{{{.{a}}}}}>"), &v), Ok(format!("<{s}>")));
        }
    }
}
