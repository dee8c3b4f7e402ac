//! `inspect -f`: the subset of Go's text/template that scripts use with Docker.
//!
//! Kept free of the rest of the CLI (it needs only `serde_json`) so the fuzz targets
//! under `fuzz/` can build it on its own.

use serde_json::Value;

/// The subset of Go templates scripts use with `inspect -f`: `{{.A.B}}` and
/// `{{json .A}}`, anything else copied as is.
pub fn render_template(template: &str, value: &Value) -> String {
    let mut out = String::new();
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        // An unterminated `{{` is text like the rest, copied once below.
        let Some(end) = rest[start..].find("}}") else { break };
        out.push_str(&rest[..start]);
        let expr = rest[start + 2..start + end].trim();
        let (as_json, path) = match expr.strip_prefix("json ") {
            Some(p) => (true, p.trim()),
            None => (false, expr),
        };
        let mut v = value;
        for key in path.trim_start_matches('.').split('.').filter(|k| !k.is_empty()) {
            v = &v[key];
        }
        out.push_str(&match (as_json, v) {
            (true, v) => v.to_string(),
            (false, Value::String(s)) => s.clone(),
            (false, Value::Null) => "<no value>".into(),
            (false, v) => v.to_string(),
        });
        rest = &rest[start + end + 2..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn fields_and_json() {
        let v = json!({"State": {"Status": "running", "Pid": 42}, "Name": "/web", "Env": ["A=1"]});
        assert_eq!(render_template("{{.State.Status}} {{ .State.Pid }}", &v), "running 42");
        assert_eq!(render_template("{{json .Env}}", &v), r#"["A=1"]"#);
        assert_eq!(render_template("{{.Nope}}", &v), "<no value>");
    }

    /// Found by the property tests: the text before an unterminated `{{` came out twice.
    #[test]
    fn unterminated_action_is_copied_once() {
        assert_eq!(render_template("a{{", &json!({})), "a{{");
        assert_eq!(render_template("{{.A}} b {{.A", &json!({"A": "x"})), "x b {{.A");
    }
}

/// Property tests: any template renders without panicking; text outside actions is copied
/// exactly once; actions render the value they name.
#[cfg(test)]
mod prop {
    use proptest::prelude::*;
    use serde_json::{Map, json};

    use super::*;

    fn value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|n| json!(n)),
            "\\PC{0,12}".prop_map(Value::String),
        ];
        leaf.prop_recursive(3, 32, 6, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                proptest::collection::btree_map("[abAB.]{1,2}", inner, 0..5)
                    .prop_map(|m| Value::Object(m.into_iter().collect::<Map<_, _>>())),
            ]
        })
    }

    /// Template-ish text: braces, dots and `json` are likely.
    fn template() -> impl Strategy<Value = String> {
        proptest::collection::vec(
            prop_oneof![
                Just("{{".to_owned()),
                Just("}}".to_owned()),
                Just("{".to_owned()),
                Just("}".to_owned()),
                Just(".".to_owned()),
                Just("json ".to_owned()),
                Just(" ".to_owned()),
                "[A-Za-z]{1,3}",
                "\\PC{1,3}",
            ],
            0..24,
        )
        .prop_map(|parts| parts.concat())
    }

    /// Literal text that holds no brace, so it cannot start or end an action.
    fn literal() -> impl Strategy<Value = String> {
        "[^{}]{0,10}"
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn never_panics(t in template(), v in value()) {
            render_template(&t, &v);
        }

        #[test]
        fn text_without_actions_is_copied(t in "[^{]{0,40}(\\{[^{]{0,5})?", v in value()) {
            prop_assert_eq!(render_template(&t, &v), t);
        }

        #[test]
        fn unterminated_action_is_copied(before in literal(), after in "[^}]{0,20}", v in value()) {
            let t = format!("{before}{{{{{after}");
            prop_assert_eq!(render_template(&t, &v), t);
        }

        #[test]
        fn actions_render_the_named_value(
            parts in proptest::collection::vec((literal(), "[abAB]{1,2}", "[abAB]{1,2}", any::<bool>()), 0..5),
            tail in literal(),
            v in value(),
        ) {
            let mut t = String::new();
            let mut expected = String::new();
            for (text, a, b, as_json) in &parts {
                t.push_str(text);
                expected.push_str(text);
                let named = &v[a.as_str()][b.as_str()];
                if *as_json {
                    t.push_str(&format!("{{{{json .{a}.{b}}}}}"));
                    expected.push_str(&named.to_string());
                } else {
                    t.push_str(&format!("{{{{ .{a}.{b} }}}}"));
                    expected.push_str(&match named {
                        Value::String(s) => s.clone(),
                        Value::Null => "<no value>".into(),
                        other => other.to_string(),
                    });
                }
            }
            t.push_str(&tail);
            expected.push_str(&tail);
            prop_assert_eq!(render_template(&t, &v), expected);
        }
    }
}
