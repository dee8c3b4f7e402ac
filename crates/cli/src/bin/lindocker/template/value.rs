//! The values a template works on: JSON, typed as far as Go's printing needs (a Go map
//! prints `map[k:v]`, a struct `{v1 v2}`, a nil slice `[]`, a nil pointer `<nil>`).

use std::collections::BTreeMap;

use serde_json::Value;

/// What a value's Go type is, where JSON alone cannot tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A Go map (`map[string]T`): `{{.M.missing}}` is `<no value>`.
    Map,
    /// A Go `map[string]string`: as [`Kind::Map`], and `index` of a missing key is `""`.
    StrMap,
    /// A slice: `null` prints `[]`.
    Slice,
    /// A pointer: `null` prints `<nil>`.
    Ptr,
}

/// Kinds by path: `["Config.Labels", Kind::StrMap]`; a `*` segment matches any map key
/// or list element.
pub type Schema<'a> = &'a [(&'a str, Kind)];

/// Why a value is nil.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nil {
    /// No value at all (`<no value>`): a missing map entry, a JSON null of unknown type.
    Invalid,
    /// A nil pointer (`<nil>`).
    Ptr,
    /// A nil slice (`[]`).
    Slice,
    /// A nil map (`map[]`).
    Map,
}

/// A value during execution.
#[derive(Debug, Clone, PartialEq)]
pub enum Val {
    /// A nil of some type.
    Nil(Nil),
    /// A bool.
    Bool(bool),
    /// An integer (Go's `int`).
    Int(i64),
    /// A float64.
    Float(f64),
    /// A string.
    Str(String),
    /// A slice.
    List(Vec<Val>),
    /// A map; `strings` when its element type is string (a missing entry's zero is `""`).
    Map { entries: BTreeMap<String, Val>, strings: bool },
    /// A struct: fields by name.
    Struct(BTreeMap<String, Val>),
    /// A method taking one string (`.Label "key"`): looks the key up, `""` when absent.
    Lookup(BTreeMap<String, String>),
}

impl Val {
    /// Types `value` by `schema`; objects are structs unless the schema says otherwise.
    pub fn from_json(value: &Value, schema: Schema<'_>) -> Val {
        let mut path = Vec::new();
        convert(value, schema, &mut path)
    }

    /// The JSON form (`{{json .}}`): nils are `null`, structs and maps objects.
    pub fn to_json(&self) -> Value {
        match self {
            Val::Nil(_) => Value::Null,
            Val::Bool(b) => Value::Bool(*b),
            Val::Int(i) => Value::from(*i),
            Val::Float(f) => serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number),
            Val::Str(s) => Value::String(s.clone()),
            Val::List(l) => Value::Array(l.iter().map(Val::to_json).collect()),
            // Methods (`Label`) are no data: Docker's JSON of a row leaves them out.
            Val::Map { entries, .. } | Val::Struct(entries) => Value::Object(
                entries
                    .iter()
                    .filter(|(_, v)| !matches!(v, Val::Lookup(_)))
                    .map(|(k, v)| (k.clone(), v.to_json()))
                    .collect(),
            ),
            Val::Lookup(_) => Value::Null,
        }
    }

    /// Go's truth: false, 0, "", empty collections and nils are false.
    pub fn truth(&self) -> bool {
        match self {
            Val::Nil(_) => false,
            Val::Bool(b) => *b,
            Val::Int(i) => *i != 0,
            Val::Float(f) => *f != 0.0,
            Val::Str(s) => !s.is_empty(),
            Val::List(l) => !l.is_empty(),
            Val::Map { entries, .. } => !entries.is_empty(),
            Val::Struct(_) | Val::Lookup(_) => true,
        }
    }

    /// Go's name of the type, for error messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Val::Nil(Nil::Invalid) => "<nil>",
            Val::Nil(Nil::Ptr) => "*struct",
            Val::Nil(Nil::Slice) | Val::List(_) => "[]interface {}",
            Val::Nil(Nil::Map) | Val::Map { .. } => "map[string]interface {}",
            Val::Bool(_) => "bool",
            Val::Int(_) => "int",
            Val::Float(_) => "float64",
            Val::Str(_) => "string",
            Val::Struct(_) => "struct",
            Val::Lookup(_) => "func(string) string",
        }
    }

    /// Go's `%v` at the top of an action: an invalid value is `<no value>`.
    pub fn print(&self) -> String {
        match self {
            Val::Nil(Nil::Invalid) => "<no value>".into(),
            other => other.go(false),
        }
    }

    /// Go's `%v` (`%+v` with `names`) inside fmt.
    pub fn go(&self, names: bool) -> String {
        match self {
            Val::Nil(Nil::Invalid) | Val::Nil(Nil::Ptr) => "<nil>".into(),
            Val::Nil(Nil::Slice) => "[]".into(),
            Val::Nil(Nil::Map) => "map[]".into(),
            Val::Bool(b) => b.to_string(),
            Val::Int(i) => i.to_string(),
            Val::Float(f) => float_g(*f, None, false),
            Val::Str(s) => s.clone(),
            Val::List(l) => format!("[{}]", l.iter().map(|v| v.go(names)).collect::<Vec<_>>().join(" ")),
            Val::Map { entries, .. } => format!(
                "map[{}]",
                entries.iter().map(|(k, v)| format!("{k}:{}", v.go(names))).collect::<Vec<_>>().join(" ")
            ),
            Val::Struct(fields) => format!(
                "{{{}}}",
                fields
                    .iter()
                    .map(|(k, v)| if names { format!("{k}:{}", v.go(names)) } else { v.go(names) })
                    .collect::<Vec<_>>()
                    .join(" ")
            ),
            Val::Lookup(_) => "<func>".into(),
        }
    }
}

fn scalar(value: &Value) -> Val {
    match value {
        Value::Null => Val::Nil(Nil::Invalid),
        Value::Bool(b) => Val::Bool(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => Val::Int(i),
            // u64 beyond i64 and floats: float64, as Go's JSON decoding gives.
            None => Val::Float(n.as_f64().unwrap_or(0.0)),
        },
        Value::String(s) => Val::Str(s.clone()),
        Value::Array(_) | Value::Object(_) => unreachable!("scalar() is called on scalars"),
    }
}

fn kind_of(schema: Schema<'_>, path: &[&str]) -> Option<Kind> {
    schema.iter().find_map(|(pattern, kind)| {
        let mut segments = pattern.split('.');
        let matched = path.iter().all(|p| segments.next().is_some_and(|s| s == "*" || s == *p));
        (matched && segments.next().is_none()).then_some(*kind)
    })
}

/// The fields the schema names directly under `path` (`A.B` under `A`).
fn fields_of<'s>(schema: Schema<'s>, path: &[&str]) -> Vec<(&'s str, Kind)> {
    schema
        .iter()
        .filter_map(|(pattern, kind)| {
            let segments: Vec<&str> = pattern.split('.').collect();
            let (last, prefix) = segments.split_last()?;
            let under = prefix.len() == path.len() && prefix.iter().zip(path).all(|(s, p)| *s == "*" || s == p);
            (under && *last != "*").then_some((*last, *kind))
        })
        .collect()
}

fn convert<'v>(value: &'v Value, schema: Schema<'_>, path: &mut Vec<&'v str>) -> Val {
    let kind = kind_of(schema, path);
    match value {
        Value::Null => match kind {
            Some(Kind::Map | Kind::StrMap) => Val::Nil(Nil::Map),
            Some(Kind::Slice) => Val::Nil(Nil::Slice),
            Some(Kind::Ptr) => Val::Nil(Nil::Ptr),
            None => Val::Nil(Nil::Invalid),
        },
        Value::Object(m) => {
            let mut entries = BTreeMap::new();
            for (k, v) in m {
                path.push(k);
                entries.insert(k.clone(), convert(v, schema, path));
                path.pop();
            }
            match kind {
                Some(Kind::Map) => Val::Map { entries, strings: false },
                Some(Kind::StrMap) => Val::Map { entries, strings: true },
                _ => {
                    // A struct has its fields even when the JSON left them out.
                    for (field, kind) in fields_of(schema, path) {
                        entries.entry(field.to_owned()).or_insert(Val::Nil(match kind {
                            Kind::Map | Kind::StrMap => Nil::Map,
                            Kind::Slice => Nil::Slice,
                            Kind::Ptr => Nil::Ptr,
                        }));
                    }
                    Val::Struct(entries)
                }
            }
        }
        Value::Array(a) => Val::List(
            a.iter()
                .map(|v| {
                    path.push("*");
                    let v = convert(v, schema, path);
                    path.pop();
                    v
                })
                .collect(),
        ),
        other => scalar(other),
    }
}

/// Go's `%g` (`strconv.FormatFloat(f, 'g', prec, 64)`, shortest when `prec` is None);
/// `sharp` keeps trailing zeros.
pub fn float_g(f: f64, prec: Option<usize>, sharp: bool) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "+Inf".into() } else { "-Inf".into() };
    }
    // Digits and exponent of the value rounded as asked.
    let e = match prec {
        Some(p) => format!("{:.*e}", p.max(1) - 1, f),
        None => format!("{f:e}"),
    };
    let (mantissa, exp) = e.split_once('e').unwrap_or((&e, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits = mantissa.trim_start_matches('-').replace('.', "");
    let eprec = match prec {
        None => 6,
        Some(p) => {
            let p = p.max(1) as i32;
            if p > digits.len() as i32 && digits.len() as i32 > exp { digits.len() as i32 } else { p }
        }
    };
    let negative = f.is_sign_negative() && f != 0.0 || (f == 0.0 && f.is_sign_negative());
    let sign = if negative { "-" } else { "" };
    let trim = |s: String| -> String {
        if sharp || !s.contains('.') { s } else { s.trim_end_matches('0').trim_end_matches('.').to_owned() }
    };
    if exp < -4 || exp >= eprec {
        let mut m = digits[..1].to_owned();
        if digits.len() > 1 {
            m.push('.');
            m.push_str(&digits[1..]);
        }
        let m = if prec.is_some() { trim(m) } else { m };
        format!("{sign}{m}e{}{:02}", if exp < 0 { '-' } else { '+' }, exp.abs())
    } else {
        let decimals = (digits.len() as i32 - 1 - exp).max(0) as usize;
        let text = format!("{:.*}", decimals, f.abs());
        format!("{sign}{}", if prec.is_some() { trim(text) } else { text })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn floats_print_as_go() {
        assert_eq!(float_g(1_000_000.0, None, false), "1e+06");
        assert_eq!(float_g(123_456.0, None, false), "123456");
        assert_eq!(float_g(1.5, None, false), "1.5");
        assert_eq!(float_g(0.00001, None, false), "1e-05");
        assert_eq!(float_g(-2.25, None, false), "-2.25");
        assert_eq!(float_g(1.23456, Some(3), false), "1.23");
        assert_eq!(float_g(100.0, Some(2), false), "1e+02");
    }

    #[test]
    fn schema_types_nulls_and_maps() {
        let schema: Schema<'_> =
            &[("A.Labels", Kind::StrMap), ("A.Binds", Kind::Slice), ("A.Health", Kind::Ptr), ("L.*.M", Kind::Map)];
        let v = Val::from_json(
            &json!({"A": {"Labels": {"x": "1"}, "Binds": null, "Health": null, "Other": null}, "L": [{"M": null}]}),
            schema,
        );
        let Val::Struct(top) = &v else { panic!() };
        let Val::Struct(a) = &top["A"] else { panic!() };
        assert_eq!(a["Labels"].print(), "map[x:1]");
        assert_eq!(a["Binds"].print(), "[]");
        assert_eq!(a["Health"].print(), "<nil>");
        assert_eq!(a["Other"].print(), "<no value>");
        assert_eq!(top["L"].print(), "[{map[]}]");
        // Fields the schema knows are there even when the JSON leaves them out.
        let v = Val::from_json(&json!({"A": {}, "L": [{}]}), schema);
        assert_eq!(v.print(), "{{[] <nil> map[]} [{map[]}]}");
    }
}
