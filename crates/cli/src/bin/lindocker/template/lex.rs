//! Go's text/template lexer: text and actions (`{{ }}`), trim markers (`{{- `, ` -}}`),
//! comments, and the tokens inside actions.

use super::Error;

/// A token and where it starts (byte offset into the template).
#[derive(Debug, Clone, PartialEq)]
pub struct Token {
    pub kind: Tok,
    pub pos: usize,
}

/// Token kinds.
#[derive(Debug, Clone, PartialEq)]
pub enum Tok {
    Text(String),
    Left,
    Right,
    Space,
    /// `.Name` (one segment).
    Field(String),
    Dot,
    /// `$` or `$name`.
    Variable(String),
    Declare,
    Assign,
    Pipe,
    LeftParen,
    RightParen,
    Comma,
    /// A quoted string, already unquoted; the original text for error context.
    Str(String, String),
    /// A number as written.
    Number(String),
    /// A character constant, as its code point; the original text.
    Char(char, String),
    Bool(bool),
    Nil,
    Ident(String),
    Keyword(&'static str),
    Eof,
}

const KEYWORDS: [&str; 10] = ["block", "break", "continue", "define", "else", "end", "if", "range", "template", "with"];

fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r' | b'\n')
}

fn is_alnum(c: char) -> bool {
    c == '_' || c.is_alphanumeric()
}

/// The line (1-based) of byte `pos`.
pub fn line_of(text: &str, pos: usize) -> usize {
    1 + text.as_bytes()[..pos.min(text.len())].iter().filter(|&&b| b == b'\n').count()
}

/// Splits `text` into tokens.
pub fn lex(text: &str) -> Result<Vec<Token>, Error> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    let mut trim_next_text = false;
    let err = |pos: usize, msg: String| Error::Parse { line: line_of(text, pos), msg };
    while i < b.len() {
        // Text up to the next action.
        let start = i;
        let next = text[i..].find("{{").map(|n| i + n);
        let end = next.unwrap_or(b.len());
        let mut chunk = &text[start..end];
        let trim_left = next.is_some_and(|n| b.get(n + 2) == Some(&b'-') && b.get(n + 3).is_some_and(|&c| is_space(c)));
        if trim_next_text {
            chunk = chunk.trim_start_matches([' ', '\t', '\r', '\n']);
        }
        if trim_left {
            chunk = chunk.trim_end_matches([' ', '\t', '\r', '\n']);
        }
        if !chunk.is_empty() {
            out.push(Token { kind: Tok::Text(chunk.to_owned()), pos: start });
        }
        trim_next_text = false;
        let Some(n) = next else { break };
        // The action.
        let left = n;
        i = n + 2;
        if trim_left {
            i += 2;
        }
        // A comment: `{{/* ... */}}`, alone in its action.
        if text[i..].starts_with("/*") {
            let close = text[i + 2..].find("*/").ok_or_else(|| err(left, "unclosed comment".into()))?;
            i = i + 2 + close + 2;
            if text[i..].starts_with(" -}}") {
                trim_next_text = true;
                i += 4;
            } else if text[i..].starts_with("}}") {
                i += 2;
            } else {
                return Err(err(i, "comment ends before closing delimiter".into()));
            }
            continue;
        }
        out.push(Token { kind: Tok::Left, pos: left });
        let mut parens = 0usize;
        loop {
            if i >= b.len() {
                return Err(err(i, "unclosed action".into()));
            }
            if text[i..].starts_with(" -}}") || text[i..].starts_with("\t-}}") || text[i..].starts_with("\n-}}") {
                if parens > 0 {
                    return Err(err(i, "unclosed left paren".into()));
                }
                out.push(Token { kind: Tok::Right, pos: i + 1 });
                trim_next_text = true;
                i += 4;
                break;
            }
            if text[i..].starts_with("}}") {
                if parens > 0 {
                    return Err(err(i, "unclosed left paren".into()));
                }
                out.push(Token { kind: Tok::Right, pos: i });
                i += 2;
                break;
            }
            let c = text[i..].chars().next().unwrap_or(' ');
            let pos = i;
            match c {
                ' ' | '\t' | '\r' | '\n' => {
                    while i < b.len() && is_space(b[i]) && !text[i..].starts_with(" -}}") {
                        i += 1;
                    }
                    out.push(Token { kind: Tok::Space, pos });
                }
                '=' => {
                    i += 1;
                    out.push(Token { kind: Tok::Assign, pos });
                }
                ':' => {
                    if b.get(i + 1) != Some(&b'=') {
                        return Err(err(i, "expected :=".into()));
                    }
                    i += 2;
                    out.push(Token { kind: Tok::Declare, pos });
                }
                '|' => {
                    i += 1;
                    out.push(Token { kind: Tok::Pipe, pos });
                }
                ',' => {
                    i += 1;
                    out.push(Token { kind: Tok::Comma, pos });
                }
                '(' => {
                    i += 1;
                    parens += 1;
                    out.push(Token { kind: Tok::LeftParen, pos });
                }
                ')' => {
                    if parens == 0 {
                        return Err(err(i, "unexpected right paren".into()));
                    }
                    parens -= 1;
                    i += 1;
                    out.push(Token { kind: Tok::RightParen, pos });
                }
                '"' => {
                    let (s, len) = quoted(&text[i..]).ok_or_else(|| err(pos, "unterminated quoted string".into()))?;
                    out.push(Token { kind: Tok::Str(s, text[i..i + len].to_owned()), pos });
                    i += len;
                }
                '`' => {
                    let close =
                        text[i + 1..].find('`').ok_or_else(|| err(pos, "unterminated raw quoted string".into()))?;
                    let s = text[i + 1..i + 1 + close].to_owned();
                    out.push(Token { kind: Tok::Str(s, text[i..i + close + 2].to_owned()), pos });
                    i += close + 2;
                }
                '\'' => {
                    let (s, len) =
                        quoted(&text[i..]).ok_or_else(|| err(pos, "unterminated character constant".into()))?;
                    let mut chars = s.chars();
                    let (Some(ch), None) = (chars.next(), chars.next()) else {
                        return Err(err(pos, format!("malformed character constant: {}", &text[i..i + len])));
                    };
                    out.push(Token { kind: Tok::Char(ch, text[i..i + len].to_owned()), pos });
                    i += len;
                }
                '$' => {
                    i += 1;
                    while let Some(c) = text[i..].chars().next().filter(|&c| is_alnum(c)) {
                        i += c.len_utf8();
                    }
                    out.push(Token { kind: Tok::Variable(text[pos..i].to_owned()), pos });
                }
                '.' if b.get(i + 1).is_some_and(u8::is_ascii_digit) => {
                    i = number(text, i);
                    out.push(Token { kind: Tok::Number(text[pos..i].to_owned()), pos });
                }
                '.' => {
                    i += 1;
                    while let Some(c) = text[i..].chars().next().filter(|&c| is_alnum(c)) {
                        i += c.len_utf8();
                    }
                    out.push(Token {
                        kind: if i == pos + 1 { Tok::Dot } else { Tok::Field(text[pos + 1..i].to_owned()) },
                        pos,
                    });
                }
                '+' | '-' | '0'..='9' => {
                    i = number(text, i);
                    let word = &text[pos..i];
                    if text[i..].chars().next().is_some_and(is_alnum) || word == "+" || word == "-" {
                        let next = text[i..].chars().next().map(String::from).unwrap_or_default();
                        return Err(err(pos, format!("bad number syntax: \"{word}{next}\"")));
                    }
                    out.push(Token { kind: Tok::Number(word.to_owned()), pos });
                }
                c if is_alnum(c) => {
                    while let Some(c) = text[i..].chars().next().filter(|&c| is_alnum(c)) {
                        i += c.len_utf8();
                    }
                    let word = &text[pos..i];
                    // An identifier must end at a delimiter-like character.
                    if let Some(c) = text[i..].chars().next()
                        && !(is_space(c as u8) && c.is_ascii() || matches!(c, '.' | ',' | '|' | ':' | ')' | '(' | '}'))
                    {
                        return Err(err(i, format!("bad character {}", unicode_name(c))));
                    }
                    let kind = match word {
                        "true" => Tok::Bool(true),
                        "false" => Tok::Bool(false),
                        "nil" => Tok::Nil,
                        w => match KEYWORDS.iter().find(|k| **k == w) {
                            Some(k) => Tok::Keyword(k),
                            None => Tok::Ident(w.to_owned()),
                        },
                    };
                    out.push(Token { kind, pos });
                }
                c => return Err(err(pos, format!("unrecognized character in action: {}", unicode_name(c)))),
            }
        }
    }
    out.push(Token { kind: Tok::Eof, pos: b.len() });
    Ok(out)
}

/// Go's `%#U`: `U+007B '{'`.
fn unicode_name(c: char) -> String {
    format!("U+{:04X} '{c}'", c as u32)
}

/// The end of a number starting at `i` (sign, digits, `_`, `.`, exponent, hex digits).
fn number(text: &str, mut i: usize) -> usize {
    let b = text.as_bytes();
    if matches!(b.get(i), Some(b'+' | b'-')) {
        i += 1;
    }
    let hex = text[i..].starts_with("0x") || text[i..].starts_with("0X");
    if hex {
        i += 2;
    }
    while let Some(&c) = b.get(i) {
        let exp = if hex { matches!(c, b'p' | b'P') } else { matches!(c, b'e' | b'E') };
        if exp && matches!(b.get(i + 1), Some(b'+' | b'-')) {
            i += 2;
        } else if c.is_ascii_alphanumeric() || c == b'_' || c == b'.' {
            i += 1;
        } else {
            break;
        }
    }
    i
}

/// Unquotes a Go interpreted string (or char constant) at the start of `s`: the value and
/// the length consumed, or None when unterminated or malformed.
fn quoted(s: &str) -> Option<(String, usize)> {
    let quote = s.chars().next()?;
    let mut out = String::new();
    let mut chars = s.char_indices().skip(1);
    while let Some((i, c)) = chars.next() {
        match c {
            '\n' => return None,
            c if c == quote => return Some((out, i + 1)),
            '\\' => {
                let (_, e) = chars.next()?;
                match e {
                    'n' => out.push('\n'),
                    't' => out.push('\t'),
                    'r' => out.push('\r'),
                    'a' => out.push('\x07'),
                    'b' => out.push('\x08'),
                    'f' => out.push('\x0c'),
                    'v' => out.push('\x0b'),
                    '\\' => out.push('\\'),
                    '"' => out.push('"'),
                    '\'' => out.push('\''),
                    'x' | 'u' | 'U' => {
                        let n = match e {
                            'x' => 2,
                            'u' => 4,
                            _ => 8,
                        };
                        let mut code = 0u32;
                        for _ in 0..n {
                            code = code * 16 + chars.next()?.1.to_digit(16)?;
                        }
                        out.push(char::from_u32(code)?);
                    }
                    '0'..='7' => {
                        let mut code = e.to_digit(8)?;
                        for _ in 0..2 {
                            code = code * 8 + chars.next()?.1.to_digit(8)?;
                        }
                        out.push(char::from_u32(code)?);
                    }
                    _ => return None,
                }
            }
            c => out.push(c),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(t: &str) -> Vec<Tok> {
        lex(t).unwrap().into_iter().map(|t| t.kind).collect()
    }

    #[test]
    fn trims_and_comments() {
        assert_eq!(
            kinds("a  {{- .X -}}  b{{/* c */}}c"),
            vec![
                Tok::Text("a".into()),
                Tok::Left,
                Tok::Field("X".into()),
                Tok::Right,
                Tok::Text("b".into()),
                Tok::Text("c".into()),
                Tok::Eof
            ]
        );
        assert_eq!(kinds("{{-3}}"), vec![Tok::Left, Tok::Number("-3".into()), Tok::Right, Tok::Eof]);
    }

    #[test]
    fn strings_and_errors() {
        assert_eq!(kinds(r#"{{"a\tb"}}"#)[1], Tok::Str("a\tb".into(), r#""a\tb""#.into()));
        assert!(matches!(lex("{{.A"), Err(Error::Parse { msg, .. }) if msg == "unclosed action"));
        assert!(matches!(lex("x\n{{\"a}}"), Err(Error::Parse { line: 2, .. })));
        // Found by the property tests: a bad number before a multi-byte character.
        assert!(
            matches!(lex("{{-2M\u{1EE61}}}"), Err(Error::Parse { msg, .. }) if msg == "bad number syntax: \"-2M\u{1EE61}\"")
        );
    }
}
