//! The functions a template may call: Go's builtins (`printf`, `index`, `eq`, ...) and
//! Docker's (`json`, `join`, `split`, `lower`, `upper`, `title`, `truncate`, `pad`).

use std::cmp::Ordering;

use super::value::{Nil, Val, float_g};

/// Names a template may call.
pub const NAMES: [&str; 27] = [
    "and", "call", "html", "index", "slice", "js", "len", "not", "or", "print", "printf", "println", "urlquery", "eq",
    "ge", "gt", "le", "lt", "ne", "json", "split", "join", "title", "lower", "upper", "pad", "truncate",
];

/// Why a call failed.
pub enum Call {
    /// The arguments do not fit the function (reported at the function's name).
    Args(String),
    /// The function failed (`error calling NAME: ...`).
    Failed(String),
}

fn count(name: &str, args: &[Val], want: usize) -> Result<(), Call> {
    if args.len() != want {
        return Err(Call::Args(format!("wrong number of args for {name}: want {want} got {}", args.len())));
    }
    Ok(())
}

fn string(v: &Val) -> Result<&str, Call> {
    match v {
        Val::Str(s) => Ok(s),
        Val::Nil(Nil::Invalid) => Err(Call::Args("invalid value; expected string".into())),
        other => Err(Call::Args(format!("wrong type for value; expected string; got {}", other.type_name()))),
    }
}

fn int(v: &Val) -> Result<i64, Call> {
    match v {
        Val::Int(i) => Ok(*i),
        Val::Nil(Nil::Invalid) => Err(Call::Args("invalid value; expected int".into())),
        other => Err(Call::Args(format!("wrong type for value; expected int; got {}", other.type_name()))),
    }
}

/// Calls `name` (not `and`/`or`, which the executor evaluates lazily). In `header` mode,
/// Docker's functions return their first argument (table headers are the field names).
pub fn call(name: &str, args: &[Val], header: bool) -> Result<Val, Call> {
    if header && matches!(name, "json" | "split" | "join" | "title" | "lower" | "upper" | "pad" | "truncate") {
        return Ok(args.first().cloned().unwrap_or(Val::Str(String::new())));
    }
    Ok(match name {
        "not" => {
            count(name, args, 1)?;
            Val::Bool(!args[0].truth())
        }
        "len" => {
            count(name, args, 1)?;
            Val::Int(match &args[0] {
                Val::Str(s) => s.len(),
                Val::List(l) => l.len(),
                Val::Map { entries, .. } => entries.len(),
                Val::Nil(Nil::Slice | Nil::Map) => 0,
                Val::Nil(Nil::Invalid | Nil::Ptr) => return Err(Call::Failed("len of nil pointer".into())),
                other => return Err(Call::Failed(format!("len of type {}", other.type_name()))),
            } as i64)
        }
        "index" => {
            let Some((item, indices)) = args.split_first() else {
                return Err(Call::Args("wrong number of args for index: want at least 1 got 0".into()));
            };
            let mut item = item.clone();
            for i in indices {
                item = index(&item, i)?;
            }
            item
        }
        "slice" => slice(args)?,
        "print" => Val::Str(sprint(args)),
        "println" => Val::Str(format!("{}\n", args.iter().map(|a| a.go(false)).collect::<Vec<_>>().join(" "))),
        "printf" => {
            let Some((format, rest)) = args.split_first() else {
                return Err(Call::Args("wrong number of args for printf: want at least 1 got 0".into()));
            };
            Val::Str(sprintf(string(format)?, rest))
        }
        "html" => Val::Str(html(&eval_args(args))),
        "js" => Val::Str(js(&eval_args(args))),
        "urlquery" => Val::Str(urlquery(&eval_args(args))),
        "eq" => {
            let Some((first, rest)) = args.split_first() else {
                return Err(Call::Args("wrong number of args for eq: want at least 1 got 0".into()));
            };
            if rest.is_empty() {
                return Err(Call::Failed("missing argument for comparison".into()));
            }
            let mut truth = false;
            for r in rest {
                if equal(first, r)? {
                    truth = true;
                    break;
                }
            }
            Val::Bool(truth)
        }
        "ne" => {
            count(name, args, 2)?;
            Val::Bool(!equal(&args[0], &args[1])?)
        }
        "lt" | "le" | "gt" | "ge" => {
            count(name, args, 2)?;
            let order = compare(&args[0], &args[1])?;
            Val::Bool(match name {
                "lt" => order == Ordering::Less,
                "le" => order != Ordering::Greater,
                "gt" => order == Ordering::Greater,
                _ => order != Ordering::Less,
            })
        }
        "call" => {
            let what = args.first().map_or("nil", Val::type_name);
            return Err(Call::Failed(format!("non-function of type {what}")));
        }
        "json" => {
            count(name, args, 1)?;
            Val::Str(serde_json::to_string(&args[0].to_json()).unwrap_or_default())
        }
        "split" => {
            count(name, args, 2)?;
            let (s, sep) = (string(&args[0])?, string(&args[1])?);
            let parts: Vec<Val> = if sep.is_empty() {
                s.chars().map(|c| Val::Str(c.to_string())).collect()
            } else {
                s.split(sep).map(|p| Val::Str(p.to_owned())).collect()
            };
            Val::List(parts)
        }
        "join" => {
            count(name, args, 2)?;
            let items: Vec<&str> = match &args[0] {
                Val::Nil(Nil::Slice) => Vec::new(),
                Val::List(l) if l.iter().all(|v| matches!(v, Val::Str(_))) => l.iter().filter_map(as_str).collect(),
                other => {
                    return Err(Call::Args(format!(
                        "wrong type for value; expected []string; got {}",
                        other.type_name()
                    )));
                }
            };
            Val::Str(items.join(string(&args[1])?))
        }
        "title" => {
            count(name, args, 1)?;
            Val::Str(title(string(&args[0])?))
        }
        "lower" => {
            count(name, args, 1)?;
            Val::Str(string(&args[0])?.to_lowercase())
        }
        "upper" => {
            count(name, args, 1)?;
            Val::Str(string(&args[0])?.to_uppercase())
        }
        "pad" => {
            count(name, args, 3)?;
            let (s, prefix, suffix) = (string(&args[0])?, int(&args[1])?, int(&args[2])?);
            if s.is_empty() {
                Val::Str(String::new())
            } else if prefix < 0 || suffix < 0 {
                return Err(Call::Failed("strings: negative Repeat count".into()));
            } else if prefix > 1 << 20 || suffix > 1 << 20 {
                return Err(Call::Failed("strings: Repeat output length overflow".into()));
            } else {
                Val::Str(format!("{}{s}{}", " ".repeat(prefix as usize), " ".repeat(suffix as usize)))
            }
        }
        "truncate" => {
            count(name, args, 2)?;
            let (s, n) = (string(&args[0])?, int(&args[1])?);
            if n < 0 {
                return Err(Call::Failed(format!("runtime error: slice bounds out of range [:{n}]")));
            }
            let n = n as usize;
            if s.len() < n {
                Val::Str(s.to_owned())
            } else {
                let mut end = n;
                while !s.is_char_boundary(end) {
                    end -= 1;
                }
                Val::Str(s[..end].to_owned())
            }
        }
        other => return Err(Call::Args(format!("function {other:?} not defined"))),
    })
}

fn as_str(v: &Val) -> Option<&str> {
    match v {
        Val::Str(s) => Some(s),
        _ => None,
    }
}

fn index(item: &Val, i: &Val) -> Result<Val, Call> {
    match (item, i) {
        (Val::List(l), Val::Int(n)) => l
            .get(usize::try_from(*n).unwrap_or(usize::MAX))
            .cloned()
            .ok_or_else(|| Call::Failed(format!("index out of range: {n}"))),
        (Val::Nil(Nil::Slice), Val::Int(n)) => Err(Call::Failed(format!("index out of range: {n}"))),
        (Val::Str(s), Val::Int(n)) => s
            .as_bytes()
            .get(usize::try_from(*n).unwrap_or(usize::MAX))
            .map(|b| Val::Int(i64::from(*b)))
            .ok_or_else(|| Call::Failed(format!("index out of range: {n}"))),
        (Val::List(_) | Val::Str(_) | Val::Nil(Nil::Slice), other) => {
            Err(Call::Failed(format!("cannot index slice/array with type {}", other.type_name())))
        }
        (Val::Map { entries, strings }, Val::Str(k)) => Ok(entries.get(k).cloned().unwrap_or(if *strings {
            Val::Str(String::new())
        } else {
            Val::Nil(Nil::Invalid)
        })),
        (Val::Nil(Nil::Map), Val::Str(_)) => Ok(Val::Nil(Nil::Invalid)),
        (Val::Map { .. } | Val::Nil(Nil::Map), other) => {
            Err(Call::Failed(format!("value has type {}; should be string", other.type_name())))
        }
        (Val::Nil(_), _) => Err(Call::Failed("index of untyped nil".into())),
        (other, _) => Err(Call::Failed(format!("can't index item of type {}", other.type_name()))),
    }
}

fn slice(args: &[Val]) -> Result<Val, Call> {
    let Some((item, idx)) = args.split_first() else {
        return Err(Call::Args("wrong number of args for slice: want at least 1 got 0".into()));
    };
    if idx.len() > 3 {
        return Err(Call::Failed(format!("too many slice indexes: {}", idx.len())));
    }
    let len = match item {
        Val::Str(s) => s.len(),
        Val::List(l) => l.len(),
        Val::Nil(Nil::Slice) => 0,
        Val::Nil(_) => return Err(Call::Failed("slice of untyped nil".into())),
        other => return Err(Call::Failed(format!("can't slice item of type {}", other.type_name()))),
    };
    if matches!(item, Val::Str(_)) && idx.len() == 3 {
        return Err(Call::Failed("cannot 3-index slice a string".into()));
    }
    let mut bounds = [0usize, len];
    for (k, v) in idx.iter().take(2).enumerate() {
        let n = match v {
            Val::Int(n) => *n,
            other => return Err(Call::Failed(format!("cannot index slice/array with type {}", other.type_name()))),
        };
        if n < 0 || n as usize > len {
            return Err(Call::Failed(format!("index out of range: {n}")));
        }
        bounds[k] = n as usize;
    }
    if bounds[0] > bounds[1] {
        return Err(Call::Failed(format!("invalid slice index: {} > {}", bounds[0], bounds[1])));
    }
    Ok(match item {
        Val::Str(s) => Val::Str(String::from_utf8_lossy(&s.as_bytes()[bounds[0]..bounds[1]]).into_owned()),
        Val::List(l) => Val::List(l[bounds[0]..bounds[1]].to_vec()),
        _ => Val::Nil(Nil::Slice),
    })
}

/// Go's basic kinds for comparisons.
fn equal(a: &Val, b: &Val) -> Result<bool, Call> {
    Ok(match (a, b) {
        (Val::Bool(x), Val::Bool(y)) => x == y,
        (Val::Int(x), Val::Int(y)) => x == y,
        (Val::Float(x), Val::Float(y)) => x == y,
        (Val::Str(x), Val::Str(y)) => x == y,
        (Val::Nil(_), Val::Nil(_)) => true,
        (Val::Nil(_), _) | (_, Val::Nil(_)) => false,
        (Val::List(_) | Val::Map { .. } | Val::Struct(_) | Val::Lookup(_), _)
        | (_, Val::List(_) | Val::Map { .. } | Val::Struct(_) | Val::Lookup(_)) => {
            return Err(Call::Failed(format!("non-comparable type {}: {}", a.go(false), a.type_name())));
        }
        _ => return Err(Call::Failed("incompatible types for comparison".into())),
    })
}

fn compare(a: &Val, b: &Val) -> Result<Ordering, Call> {
    match (a, b) {
        (Val::Int(x), Val::Int(y)) => Ok(x.cmp(y)),
        (Val::Float(x), Val::Float(y)) => Ok(x.partial_cmp(y).unwrap_or(Ordering::Equal)),
        (Val::Str(x), Val::Str(y)) => Ok(x.cmp(y)),
        (Val::Int(_) | Val::Float(_) | Val::Str(_), Val::Int(_) | Val::Float(_) | Val::Str(_)) => {
            Err(Call::Failed("incompatible types for comparison".into()))
        }
        _ => Err(Call::Failed("invalid type for comparison".into())),
    }
}

/// The text `html`, `js` and `urlquery` escape: one string as is, else `fmt.Sprint`.
fn eval_args(args: &[Val]) -> String {
    match args {
        [Val::Str(s)] => s.clone(),
        _ => sprint(args),
    }
}

/// Go's `fmt.Sprint`: a space between operands when neither is a string.
pub fn sprint(args: &[Val]) -> String {
    let mut out = String::new();
    for (i, a) in args.iter().enumerate() {
        if i > 0 && !matches!(a, Val::Str(_)) && !matches!(args[i - 1], Val::Str(_)) {
            out.push(' ');
        }
        out.push_str(&a.go(false));
    }
    out
}

fn html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' => out.push_str("&#34;"),
            '\'' => out.push_str("&#39;"),
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\0' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

fn js(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '"' => out.push_str("\\\""),
            '<' => out.push_str("\\u003C"),
            '>' => out.push_str("\\u003E"),
            '&' => out.push_str("\\u0026"),
            '=' => out.push_str("\\u003D"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u00{:02X}", c as u32)),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

fn urlquery(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(b as char),
            b' ' => out.push('+'),
            b => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Go's (deprecated) `strings.Title`: the first letter of each word in upper case.
fn title(s: &str) -> String {
    let mut prev_sep = true;
    s.chars()
        .map(|c| {
            let out = if prev_sep { c.to_uppercase().next().unwrap_or(c) } else { c };
            prev_sep = if c.is_ascii() { !(c.is_ascii_alphanumeric() || c == '_') } else { c.is_whitespace() };
            out
        })
        .collect()
}

/// Go's `strconv.Quote`.
fn quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\x07' => out.push_str("\\a"),
            '\x08' => out.push_str("\\b"),
            '\x0c' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\x0b' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c == '\x7f' => out.push_str(&format!("\\x{:02x}", c as u32)),
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[derive(Default)]
struct Spec {
    plus: bool,
    minus: bool,
    sharp: bool,
    zero: bool,
    space: bool,
    width: Option<usize>,
    prec: Option<usize>,
}

impl Spec {
    fn pad(&self, s: String, numeric: bool) -> String {
        let Some(width) = self.width else { return s };
        let len = s.chars().count();
        if len >= width {
            return s;
        }
        let fill = width - len;
        if self.minus {
            format!("{s}{}", " ".repeat(fill))
        } else if self.zero && numeric {
            let (sign, digits) = match s.strip_prefix(['-', '+', ' ']) {
                Some(d) => (&s[..1], d),
                None => ("", s.as_str()),
            };
            format!("{sign}{}{digits}", "0".repeat(fill))
        } else {
            format!("{}{s}", " ".repeat(fill))
        }
    }

    fn sign(&self, negative: bool) -> &'static str {
        if negative {
            "-"
        } else if self.plus {
            "+"
        } else if self.space {
            " "
        } else {
            ""
        }
    }
}

fn bad(verb: char, v: &Val) -> String {
    match v {
        Val::Nil(Nil::Invalid) => format!("%!{verb}(<nil>)"),
        v => format!("%!{verb}({}={})", v.type_name(), v.go(false)),
    }
}

fn format_int(spec: &Spec, verb: char, n: i64) -> String {
    let neg = n < 0;
    let abs = n.unsigned_abs();
    let body = match verb {
        'd' | 'v' => abs.to_string(),
        'x' => format!("{}{abs:x}", if spec.sharp { "0x" } else { "" }),
        'X' => format!("{}{abs:X}", if spec.sharp { "0X" } else { "" }),
        'o' => format!("{}{abs:o}", if spec.sharp { "0" } else { "" }),
        'O' => format!("0o{abs:o}"),
        'b' => format!("{abs:b}"),
        _ => unreachable!(),
    };
    let body = match spec.prec {
        Some(p) if body.len() < p => format!("{}{body}", "0".repeat(p - body.len())),
        _ => body,
    };
    spec.pad(format!("{}{body}", spec.sign(neg)), spec.prec.is_none())
}

fn exp_go(s: String) -> String {
    // Rust writes `1.5e0`; Go `1.5e+00`.
    match s.split_once(['e', 'E']) {
        Some((m, e)) => {
            let upper = s.contains('E');
            let (sign, digits) = match e.strip_prefix('-') {
                Some(d) => ('-', d),
                None => ('+', e),
            };
            format!("{m}{}{sign}{digits:0>2}", if upper { 'E' } else { 'e' })
        }
        None => s,
    }
}

fn format_float(spec: &Spec, verb: char, f: f64) -> String {
    let neg = f.is_sign_negative() && !f.is_nan();
    let a = f.abs();
    let body = if f.is_infinite() {
        "Inf".into()
    } else if f.is_nan() {
        "NaN".into()
    } else {
        match verb {
            'f' | 'F' => format!("{:.*}", spec.prec.unwrap_or(6), a),
            'e' => exp_go(format!("{:.*e}", spec.prec.unwrap_or(6), a)),
            'E' => exp_go(format!("{:.*E}", spec.prec.unwrap_or(6), a)),
            'G' => float_g(a, spec.prec, spec.sharp).to_uppercase(),
            _ => float_g(a, spec.prec, spec.sharp),
        }
    };
    spec.pad(format!("{}{body}", spec.sign(neg)), f.is_finite())
}

fn format_one(spec: &Spec, verb: char, v: &Val) -> String {
    match (verb, v) {
        ('v', Val::Int(n)) => format_int(spec, 'd', *n),
        ('v', Val::Float(f)) => format_float(spec, 'g', *f),
        ('v', Val::Nil(Nil::Invalid)) => spec.pad("<nil>".into(), false),
        ('v', v) => spec.pad(v.go(spec.plus), false),
        ('s', Val::Str(s)) => {
            let s = match spec.prec {
                Some(p) => s.chars().take(p).collect(),
                None => s.clone(),
            };
            spec.pad(s, false)
        }
        ('s' | 'd' | 'x' | 'X' | 'q', Val::List(l)) => {
            format!("[{}]", l.iter().map(|e| format_one(spec, verb, e)).collect::<Vec<_>>().join(" "))
        }
        ('q', Val::Str(s)) => {
            if spec.sharp && !s.contains('`') && !s.chars().any(char::is_control) {
                spec.pad(format!("`{s}`"), false)
            } else {
                spec.pad(quote(s), false)
            }
        }
        ('q', Val::Int(n)) => match char::from_u32(*n as u32) {
            Some(c) => {
                let q = quote(&c.to_string());
                let inner = &q[1..q.len() - 1];
                spec.pad(
                    format!(
                        "'{}'",
                        if c == '\'' {
                            "\\'"
                        } else if c == '"' {
                            "\""
                        } else {
                            inner
                        }
                    ),
                    false,
                )
            }
            None => spec.pad("'\u{FFFD}'".into(), false),
        },
        ('x' | 'X', Val::Str(s)) => {
            let hex: String =
                s.bytes().map(|b| if verb == 'x' { format!("{b:02x}") } else { format!("{b:02X}") }).collect();
            spec.pad(hex, false)
        }
        ('d' | 'x' | 'X' | 'o' | 'O' | 'b', Val::Int(n)) => format_int(spec, verb, *n),
        ('c', Val::Int(n)) => spec.pad(char::from_u32(*n as u32).unwrap_or('\u{FFFD}').to_string(), false),
        ('U', Val::Int(n)) => spec.pad(format!("U+{:04X}", n), false),
        ('e' | 'E' | 'f' | 'F' | 'g' | 'G', Val::Float(f)) => format_float(spec, verb, *f),
        ('t', Val::Bool(b)) => spec.pad(b.to_string(), false),
        (verb, v) => bad(verb, v),
    }
}

/// Go's `fmt.Sprintf` for the verbs templates use: v (and +v), s, q, d, x, X, o, O, b, c,
/// U, e, E, f, F, g, G, t, %; flags `+ - # 0 space`, width and precision (also `*`).
pub fn sprintf(format: &str, args: &[Val]) -> String {
    let mut out = String::new();
    let mut next = 0;
    let mut chars = format.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut spec = Spec::default();
        while let Some(&f) = chars.peek() {
            match f {
                '+' => spec.plus = true,
                '-' => spec.minus = true,
                '#' => spec.sharp = true,
                '0' => spec.zero = true,
                ' ' => spec.space = true,
                _ => break,
            }
            chars.next();
        }
        let number = |chars: &mut std::iter::Peekable<std::str::Chars<'_>>, next: &mut usize| {
            if chars.peek() == Some(&'*') {
                chars.next();
                let n = match args.get(*next) {
                    Some(Val::Int(n)) => Some((*n).clamp(0, 1 << 16) as usize),
                    _ => None,
                };
                *next += 1;
                return n;
            }
            let mut n: Option<usize> = None;
            while let Some(d) = chars.peek().and_then(|c| c.to_digit(10)) {
                n = Some((n.unwrap_or(0) * 10 + d as usize).min(1 << 16));
                chars.next();
            }
            n
        };
        spec.width = number(&mut chars, &mut next);
        if chars.peek() == Some(&'.') {
            chars.next();
            spec.prec = Some(number(&mut chars, &mut next).unwrap_or(0));
        }
        let Some(verb) = chars.next() else {
            out.push_str("%!(NOVERB)");
            break;
        };
        if verb == '%' {
            out.push('%');
            continue;
        }
        match args.get(next) {
            Some(v) => out.push_str(&format_one(&spec, verb, v)),
            None => out.push_str(&format!("%!{verb}(MISSING)")),
        }
        next += 1;
    }
    if next < args.len() {
        let extra: Vec<String> = args[next..]
            .iter()
            .map(|v| match v {
                Val::Nil(Nil::Invalid) => "<nil>".into(),
                v => format!("{}={}", v.type_name(), v.go(false)),
            })
            .collect();
        out.push_str(&format!("%!(EXTRA {})", extra.join(", ")));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(x: &str) -> Val {
        Val::Str(x.into())
    }

    #[test]
    fn printf_like_go() {
        assert_eq!(sprintf("%s=%d", &[s("a"), Val::Int(5)]), "a=5");
        assert_eq!(sprintf("%5d|%-5d|%05d", &[Val::Int(42), Val::Int(42), Val::Int(-42)]), "   42|42   |-0042");
        assert_eq!(
            sprintf("%x %X %#x %o %b", &[Val::Int(255), Val::Int(255), Val::Int(255), Val::Int(8), Val::Int(5)]),
            "ff FF 0xff 10 101"
        );
        assert_eq!(
            sprintf("%.2f %e %g", &[Val::Float(1.23456), Val::Float(1500.0), Val::Float(0.5)]),
            "1.23 1.500000e+03 0.5"
        );
        assert_eq!(
            sprintf("%q %v %t", &[s("a\"b\n"), Val::List(vec![s("x"), Val::Int(1)]), Val::Bool(true)]),
            "\"a\\\"b\\n\" [x 1] true"
        );
        assert_eq!(sprintf("%d %s", &[s("x")]), "%!d(string=x) %!s(MISSING)");
        assert_eq!(sprintf("%d", &[Val::Int(1), s("x")]), "1%!(EXTRA string=x)");
        assert_eq!(sprintf("%-8s|%8s|%.2s|%%", &[s("ab"), s("cd"), s("xyz")]), "ab      |      cd|xy|%");
        assert_eq!(sprintf("%c %U %x", &[Val::Int(65), Val::Int(65), s("hi")]), "A U+0041 6869");
    }

    #[test]
    fn escapers_like_go() {
        assert_eq!(html("<a href='x'>&\"</a>"), "&lt;a href=&#39;x&#39;&gt;&amp;&#34;&lt;/a&gt;");
        assert_eq!(js("a'b\"c<d>=&\\\n"), "a\\'b\\\"c\\u003Cd\\u003E\\u003D\\u0026\\\\\\u000A");
        assert_eq!(urlquery("a b&c=d/é"), "a+b%26c%3Dd%2F%C3%A9");
        assert_eq!(title("hello wide-world foo_bar"), "Hello Wide-World Foo_bar");
    }

    #[test]
    fn docker_functions() {
        let ok = |name: &str, args: &[Val]| match call(name, args, false) {
            Ok(v) => v.print(),
            Err(Call::Args(m) | Call::Failed(m)) => format!("error: {m}"),
        };
        assert_eq!(ok("join", &[Val::List(vec![s("a"), s("b")]), s(",")]), "a,b");
        assert_eq!(ok("split", &[s("a:b"), s(":")]), "[a b]");
        assert_eq!(ok("truncate", &[s("abcdef"), Val::Int(3)]), "abc");
        assert_eq!(ok("truncate", &[s("ab"), Val::Int(3)]), "ab");
        assert_eq!(ok("pad", &[s("ab"), Val::Int(1), Val::Int(2)]), " ab  ");
        assert_eq!(ok("pad", &[s(""), Val::Int(1), Val::Int(2)]), "");
        assert_eq!(ok("upper", &[Val::Int(1)]), "error: wrong type for value; expected string; got int");
        assert_eq!(
            ok("join", &[Val::List(vec![Val::Int(1)]), s(",")]),
            "error: wrong type for value; expected []string; got []interface {}"
        );
        assert_eq!(ok("eq", &[Val::Int(1), Val::Float(1.0)]), "error: incompatible types for comparison");
        assert_eq!(ok("lt", &[s("a"), s("b")]), "true");
        assert_eq!(ok("index", &[Val::List(vec![s("a")]), Val::Int(3)]), "error: index out of range: 3");
        assert_eq!(ok("slice", &[s("hello"), Val::Int(1), Val::Int(3)]), "el");
        assert_eq!(ok("len", &[Val::Int(3)]), "error: len of type int");
        assert_eq!(call("upper", &[s("NAMES")], true).ok().map(|v| v.print()).as_deref(), Some("NAMES"));
    }
}
