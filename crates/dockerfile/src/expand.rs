//! Variable expansion and quote removal, as BuildKit's shell lexer does it for the
//! instructions that expand (`ADD COPY ENV EXPOSE FROM LABEL STOPSIGNAL USER VOLUME
//! WORKDIR` and flag values): `$VAR`, `${VAR}`, `${VAR:-word}`, `${VAR-word}`,
//! `${VAR:+word}`, `${VAR+word}`, `${VAR:?msg}`, `${VAR?msg}`, `${VAR#pat}`,
//! `${VAR%pat}` (and `##`, `%%`), `${VAR/pat/repl}`, single and double quotes, the
//! escape character. `RUN`, `CMD` and `ENTRYPOINT` are not expanded by the builder (the
//! shell does it), except heredoc bodies with an unquoted delimiter ([`heredoc`]).
//!
//! Follows moby/buildkit `frontend/dockerfile/shell/lex.go`, with one deliberate
//! difference: nested `${VAR:-word}` words do not clobber the word being split by
//! [`words`] (BuildKit shares one buffer between the nesting levels).

use crate::ExpandError;
use std::collections::HashMap;

/// The values in scope: a lookup from name to value.
pub trait Vars {
    /// The value of `name`, or None when unset.
    fn get(&self, name: &str) -> Option<&str>;
}

impl Vars for HashMap<String, String> {
    fn get(&self, name: &str) -> Option<&str> {
        HashMap::get(self, name).map(String::as_str)
    }
}

impl Vars for std::collections::BTreeMap<String, String> {
    fn get(&self, name: &str) -> Option<&str> {
        std::collections::BTreeMap::get(self, name).map(String::as_str)
    }
}

impl Vars for [(String, String)] {
    /// The last pair with the name wins (as with repeated `ENV`).
    fn get(&self, name: &str) -> Option<&str> {
        self.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

impl Vars for Vec<(String, String)> {
    fn get(&self, name: &str) -> Option<&str> {
        Vars::get(self.as_slice(), name)
    }
}

/// Expands one word: variables substituted, quotes and escapes removed, no splitting.
pub fn word(text: &str, vars: &dyn Vars, escape: char) -> Result<String, ExpandError> {
    Lexer::new(escape).process(text, vars).map(|(w, _)| w)
}

/// Expands and splits on unquoted whitespace (e.g. `EXPOSE $PORTS`), each word
/// expanded as by [`word`].
pub fn words(text: &str, vars: &dyn Vars, escape: char) -> Result<Vec<String>, ExpandError> {
    Lexer::new(escape).process(text, vars).map(|(_, w)| w)
}

/// Expands the body of a heredoc whose delimiter was not quoted (`COPY <<EOF`):
/// variables substituted, quotes left alone; as BuildKit does it, `\` escapes the next
/// character (and is removed) whatever the Dockerfile's escape character.
pub fn heredoc(body: &str, vars: &dyn Vars) -> Result<String, ExpandError> {
    let mut lexer = Lexer::new('\\');
    lexer.skip_process_quotes = true;
    lexer.process(body, vars).map(|(w, _)| w)
}

/// How deep `${a:-${b:-...}}` may nest before the word is refused (hostile input
/// must not exhaust the stack).
const MAX_DEPTH: usize = 64;

/// The lexer and its modes (the parser uses the raw modes to find heredoc words).
#[derive(Debug, Clone)]
pub(crate) struct Lexer {
    escape: char,
    /// Keep quote characters in the output (still honouring their meaning).
    pub(crate) raw_quotes: bool,
    /// Keep escape characters in the output.
    pub(crate) raw_escapes: bool,
    /// Quotes are ordinary characters.
    pub(crate) skip_process_quotes: bool,
    /// Leave unset variables as written (`$X`, `${X}`).
    pub(crate) skip_unset: bool,
}

/// Returned by the empty variable set.
pub(crate) struct NoVars;

impl Vars for NoVars {
    fn get(&self, _: &str) -> Option<&str> {
        None
    }
}

impl Lexer {
    pub(crate) fn new(escape: char) -> Lexer {
        Lexer { escape, raw_quotes: false, raw_escapes: false, skip_process_quotes: false, skip_unset: false }
    }

    /// Expands `text`: the whole word and the words split on unquoted whitespace.
    pub(crate) fn process(&self, text: &str, vars: &dyn Vars) -> Result<(String, Vec<String>), ExpandError> {
        let mut run =
            Run { lx: self, vars, chars: text.chars().collect(), pos: 0, raw_escapes: self.raw_escapes, depth: 0 };
        run.stop_on(None, self.raw_escapes).map_err(|message| ExpandError { word: text.into(), message })
    }
}

/// The words being built while scanning.
#[derive(Default)]
struct WordsBuf {
    buf: String,
    words: Vec<String>,
    in_word: bool,
}

impl WordsBuf {
    fn add_char(&mut self, ch: char) {
        if ch.is_whitespace() {
            if self.in_word && !self.buf.is_empty() {
                self.words.push(std::mem::take(&mut self.buf));
                self.in_word = false;
            }
        } else {
            self.add_raw_char(ch);
        }
    }

    fn add_raw_char(&mut self, ch: char) {
        self.buf.push(ch);
        self.in_word = true;
    }

    fn add_string(&mut self, s: &str) {
        s.chars().for_each(|c| self.add_char(c));
    }

    fn add_raw_string(&mut self, s: &str) {
        self.buf.push_str(s);
        self.in_word = true;
    }

    fn finish(mut self) -> Vec<String> {
        if !self.buf.is_empty() {
            self.words.push(std::mem::take(&mut self.buf));
        }
        self.words
    }
}

/// One expansion in progress.
struct Run<'a> {
    lx: &'a Lexer,
    vars: &'a dyn Vars,
    chars: Vec<char>,
    pos: usize,
    raw_escapes: bool,
    depth: usize,
}

type R<T> = Result<T, String>;

impl Run<'_> {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn next(&mut self) -> Option<char> {
        let c = self.peek();
        if c.is_some() {
            self.pos += 1;
        }
        c
    }

    /// Scans up to `stop` (consumed) or the end.
    fn stop_on(&mut self, stop: Option<char>, raw_escapes: bool) -> R<(String, Vec<String>)> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err("syntax error: substitutions nested too deeply".into());
        }
        let saved = std::mem::replace(&mut self.raw_escapes, raw_escapes);
        let out = self.stop_on_inner(stop);
        self.raw_escapes = saved;
        self.depth -= 1;
        out
    }

    fn stop_on_inner(&mut self, stop: Option<char>) -> R<(String, Vec<String>)> {
        let mut result = String::new();
        let mut words = WordsBuf::default();
        while let Some(ch) = self.peek() {
            if stop == Some(ch) {
                self.pos += 1;
                return Ok((result, words.finish()));
            }
            let special = match ch {
                '$' => Some(self.dollar()?),
                '<' => Some(self.possible_heredoc()),
                '\'' if !self.lx.skip_process_quotes => Some(self.single_quote()?),
                '"' if !self.lx.skip_process_quotes => Some(self.double_quote()?),
                _ => None,
            };
            if let Some(tmp) = special {
                result.push_str(&tmp);
                if ch == '$' {
                    words.add_string(&tmp);
                } else {
                    words.add_raw_string(&tmp);
                }
                continue;
            }
            self.pos += 1;
            if ch == self.lx.escape {
                if self.raw_escapes {
                    words.add_raw_char(ch);
                    result.push(ch);
                }
                // The escape character escapes the next one; at the end it is dropped.
                let Some(escaped) = self.next() else { break };
                words.add_raw_char(escaped);
                result.push(escaped);
            } else {
                words.add_char(ch);
                result.push(ch);
            }
        }
        if let Some(stop) = stop {
            return Err(format!("unexpected end of statement while looking for matching {stop}"));
        }
        Ok((result, words.finish()))
    }

    fn single_quote(&mut self) -> R<String> {
        // Everything up to the next ' is literal; ' cannot be escaped inside.
        let mut out = String::new();
        let open = self.next();
        if self.lx.raw_quotes {
            out.extend(open);
        }
        loop {
            match self.next() {
                None => {
                    return Err("unexpected end of statement while looking for matching single-quote".into());
                }
                Some('\'') => {
                    if self.lx.raw_quotes {
                        out.push('\'');
                    }
                    return Ok(out);
                }
                Some(c) => out.push(c),
            }
        }
    }

    fn double_quote(&mut self) -> R<String> {
        // Literal except `$` and the escape character, which escapes `"`, `$` and itself.
        let mut out = String::new();
        let open = self.next();
        if self.lx.raw_quotes {
            out.extend(open);
        }
        loop {
            match self.peek() {
                None => {
                    return Err("unexpected end of statement while looking for matching double-quote".into());
                }
                Some('"') => {
                    self.pos += 1;
                    if self.lx.raw_quotes {
                        out.push('"');
                    }
                    return Ok(out);
                }
                Some('$') => {
                    let v = self.dollar()?;
                    out.push_str(&v);
                }
                Some(mut ch) => {
                    self.pos += 1;
                    if ch == self.lx.escape {
                        if self.raw_escapes {
                            out.push(ch);
                        }
                        match self.peek() {
                            None => continue,
                            Some(c) if c == '"' || c == '$' || c == self.lx.escape => {
                                self.pos += 1;
                                ch = c;
                            }
                            Some(_) => {}
                        }
                    }
                    out.push(ch);
                }
            }
        }
    }

    fn possible_heredoc(&mut self) -> String {
        self.pos += 1;
        if self.peek() != Some('<') {
            return "<".into();
        }
        self.pos += 1;
        let mut out = String::from("<<");
        while let Some(c @ ('\t' | '\r' | ' ')) = self.peek() {
            out.push(c);
            self.pos += 1;
        }
        out
    }

    fn get(&self, name: &str) -> Option<String> {
        self.vars.get(name).map(str::to_owned)
    }

    fn dollar(&mut self) -> R<String> {
        self.pos += 1;
        if self.peek() != Some('{') {
            let name = self.name();
            if name.is_empty() {
                return Ok("$".into());
            }
            return Ok(match self.get(&name) {
                Some(v) => v,
                None if self.lx.skip_unset => format!("${name}"),
                None => String::new(),
            });
        }
        self.pos += 1;
        match self.peek() {
            None => return Err("syntax error: missing '}'".into()),
            Some('{' | '}' | ':') => return Err("syntax error: bad substitution".into()),
            _ => {}
        }
        let name = self.name();
        let Some(mut ch) = self.next() else {
            return Err("syntax error: missing '}'".into());
        };
        let mut chs = ch.to_string();
        let mut null_is_unset = false;
        match ch {
            '}' => Ok(match self.get(&name) {
                Some(v) => v,
                None if self.lx.skip_unset => format!("${{{name}}}"),
                None => String::new(),
            }),
            ':' | '+' | '-' | '?' | '#' | '%' => {
                if ch == ':' {
                    null_is_unset = true;
                    // Go's scanner yields EOF (-1) here; any char that is not a
                    // modifier ends in "unsupported modifier" below.
                    ch = self.next().unwrap_or('\u{FFFD}');
                    chs.push(ch);
                }
                let raw = ch == '#' || ch == '%';
                if null_is_unset && raw {
                    return Err(format!("unsupported modifier ({chs}) in substitution"));
                }
                let (word, _) = self
                    .stop_on(Some('}'), raw)
                    .map_err(|e| if self.peek().is_none() { "syntax error: missing '}'".to_string() } else { e })?;
                let value = self.get(&name);
                if self.lx.skip_unset && value.is_none() {
                    return Ok(format!("${{{name}{chs}{word}}}"));
                }
                let empty = value.as_deref().is_none_or(|v| null_is_unset && v.is_empty());
                match ch {
                    '-' => Ok(if empty { word } else { value.unwrap_or_default() }),
                    '+' => Ok(if empty { String::new() } else { word }),
                    '?' => match value {
                        None => Err(format!(
                            "{name}: {}",
                            if word.is_empty() { "is not allowed to be unset" } else { &word }
                        )),
                        Some(v) if null_is_unset && v.is_empty() => Err(format!(
                            "{name}: {}",
                            if word.is_empty() { "is not allowed to be empty" } else { &word }
                        )),
                        Some(v) => Ok(v),
                    },
                    '%' | '#' => {
                        let value = value.unwrap_or_default();
                        let (greedy, pattern) = match word.strip_prefix(ch) {
                            Some(rest) => (true, rest),
                            None => (false, word.as_str()),
                        };
                        if ch == '%' {
                            trim_suffix(pattern, &value, greedy)
                        } else {
                            trim_prefix(pattern, &value, greedy)
                        }
                    }
                    _ => Err(format!("unsupported modifier ({chs}) in substitution")),
                }
            }
            '/' => {
                let all = self.peek() == Some('/');
                if all {
                    self.pos += 1;
                }
                let (pattern, _) = self
                    .stop_on(Some('/'), true)
                    .map_err(|e| if self.peek().is_none() { "syntax error: missing '/' in ${}".into() } else { e })?;
                let (replacement, _) = self
                    .stop_on(Some('}'), true)
                    .map_err(|e| if self.peek().is_none() { "syntax error: missing '}'".into() } else { e })?;
                let value = self.get(&name);
                let Some(value) = value else {
                    if self.lx.skip_unset {
                        return Ok(format!("${{{name}/{pattern}/{replacement}}}"));
                    }
                    return Ok(String::new());
                };
                let re = shell_pattern_regex(&pattern, true, false)
                    .map_err(|e| format!("invalid pattern ({pattern}) in substitution: {e}"))?;
                Ok(if all {
                    re.replace_all(&value, regex::NoExpand(&replacement)).into_owned()
                } else {
                    re.replace(&value, regex::NoExpand(&replacement)).into_owned()
                })
            }
            _ => Err(format!("unsupported modifier ({chs}) in substitution")),
        }
    }

    /// A variable name: letters, digits and `_`; or all digits (positional); or one
    /// special parameter character.
    fn name(&mut self) -> String {
        let mut name = String::new();
        while let Some(ch) = self.peek() {
            if name.is_empty() && ch.is_ascii_digit() {
                while let Some(d) = self.peek().filter(char::is_ascii_digit) {
                    name.push(d);
                    self.pos += 1;
                }
                return name;
            }
            if name.is_empty() && matches!(ch, '@' | '*' | '#' | '?' | '-' | '$' | '!' | '0') {
                self.pos += 1;
                return ch.to_string();
            }
            if !ch.is_alphanumeric() && ch != '_' {
                break;
            }
            name.push(ch);
            self.pos += 1;
        }
        name
    }
}

/// A shell pattern (`*`, `?`, `\` escapes; no brackets) as a regular expression.
fn shell_pattern_regex(pattern: &str, greedy: bool, anchored: bool) -> Result<regex::Regex, String> {
    let mut out = String::with_capacity(pattern.len() + 4);
    if anchored {
        out.push('^');
    }
    let star = if greedy { ".*" } else { ".*?" };
    let mut it = pattern.chars().peekable();
    while let Some(tok) = it.next() {
        match tok {
            '*' => out.push_str(star),
            '?' => out.push('.'),
            '\\' => {
                // `}` and `/` are escaped only to end the ${}; not part of the pattern.
                if matches!(it.peek(), Some('}' | '/')) {
                    continue;
                }
                match it.next() {
                    Some(c @ ('*' | '?' | '\\')) => {
                        out.push('\\');
                        out.push(c);
                    }
                    Some(c) => return Err(format!("invalid escape '\\{c}'")),
                    None => return Err("invalid escape '\\'".into()),
                }
            }
            c => {
                let mut buf = [0u8; 4];
                out.push_str(&regex::escape(c.encode_utf8(&mut buf)));
            }
        }
    }
    regex::RegexBuilder::new(&out).dot_matches_new_line(false).size_limit(1 << 20).build().map_err(|e| e.to_string())
}

fn trim_prefix(pattern: &str, value: &str, greedy: bool) -> R<String> {
    let re = shell_pattern_regex(pattern, greedy, true)
        .map_err(|e| format!("invalid pattern ({pattern}) in substitution: {e}"))?;
    Ok(match re.find(value) {
        Some(m) => value[m.end()..].to_string(),
        None => value.to_string(),
    })
}

/// Reverses a pattern but keeps each escape before the character it escapes.
fn reverse_pattern(pattern: &str) -> String {
    let p: Vec<char> = pattern.chars().collect();
    let mut out = vec!['\0'; p.len()];
    let last = p.len().saturating_sub(1);
    let mut i = 0;
    while i < p.len() {
        let o = last - i;
        if p[i] == '\\' && i != last {
            out[o - 1] = '\\';
            out[o] = p[i + 1];
            i += 2;
        } else {
            out[o] = p[i];
            i += 1;
        }
    }
    out.into_iter().collect()
}

fn trim_suffix(pattern: &str, value: &str, greedy: bool) -> R<String> {
    // The shortest rightmost match is the shortest leftmost one of the reversed text.
    let rev: String = value.chars().rev().collect();
    let trimmed = trim_prefix(&reverse_pattern(pattern), &rev, greedy)?;
    Ok(trimmed.chars().rev().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[&str]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                (k.to_string(), v.to_string())
            })
            .collect()
    }

    /// BuildKit's `frontend/dockerfile/shell/envVarTest` (Apache-2.0), run as its
    /// `TestShellParser4EnvVars` does.
    #[test]
    fn buildkit_env_var_table() {
        let vars = env(&["PWD=/home", "SHELL=bash", "KOREAN=한국어", "NULL="]);
        let mut n = 0;
        for (i, line) in include_str!("testdata/envVarTest").lines().enumerate() {
            if line.starts_with('#') || line.trim().is_empty() {
                continue;
            }
            let parts: Vec<&str> = line.trim().split('|').collect();
            assert_eq!(parts.len(), 3, "line {}", i + 1);
            let (platform, source, expected) = (parts[0].trim(), parts[1].trim(), parts[2].trim());
            if platform == "W" {
                continue;
            }
            let got = word(source, &vars, '\\');
            if expected == "error" {
                assert!(got.is_err(), "line {}: {source:?} gave {got:?}", i + 1);
            } else {
                assert_eq!(got.as_deref(), Ok(expected), "line {}: {source:?}", i + 1);
            }
            n += 1;
        }
        assert!(n > 200);
    }

    /// BuildKit's `frontend/dockerfile/shell/wordsTest` (Apache-2.0), both modes of
    /// its `TestShellParser4Words`.
    #[test]
    fn buildkit_words_table() {
        // (BuildKit's second mode re-reads an exhausted file: only the first runs.)
        for raw_mode in [false] {
            let lexer = Lexer::new('\\');
            let mut vars: Vec<(String, String)> = Vec::new();
            for (i, line) in include_str!("testdata/wordsTest").lines().enumerate() {
                if line.starts_with('#') {
                    continue;
                }
                if let Some(rest) = line.strip_prefix("ENV ") {
                    let rest = rest.trim_start_matches(' ');
                    let (k, v) = rest.split_once('=').unwrap_or((rest, ""));
                    vars.push((k.into(), v.into()));
                    continue;
                }
                let parts: Vec<&str> = line.split('|').collect();
                assert_eq!(parts.len(), 2, "line {}", i + 1);
                let test = parts[0].trim();
                let expected: Vec<&str> = parts[1].trim_start_matches(' ').split(',').collect();
                let got = match lexer.process(test, &vars) {
                    Ok((_, w)) => w,
                    Err(_) => vec!["error".to_string()],
                };
                if raw_mode && test.contains(['"', '\'']) {
                    // Raw quotes keep the quote characters: only the count of words
                    // and the errors are comparable.
                    assert_eq!(got.len(), expected.len(), "line {}: {test:?} {got:?}", i + 1);
                    continue;
                }
                assert_eq!(got, expected, "line {} (raw {raw_mode}): {test:?}", i + 1);
            }
        }
    }

    #[test]
    fn mandatory_vars() {
        let set = env(&["VAR=plain", "ARG=x"]);
        let empty = env(&["VAR=", "ARG=x"]);
        let unset = env(&["ARG=x"]);
        let no_empty = "${VAR:?message here$ARG}";
        let no_unset = "${VAR?message here$ARG}";
        assert_eq!(word(no_empty, &set, '\\').unwrap(), "plain");
        assert!(word(no_empty, &empty, '\\').unwrap_err().message.contains("message herex"));
        assert!(word(no_empty, &unset, '\\').unwrap_err().message.contains("message herex"));
        assert_eq!(word(no_unset, &set, '\\').unwrap(), "plain");
        assert_eq!(word(no_unset, &empty, '\\').unwrap(), "");
        assert!(word(no_unset, &unset, '\\').unwrap_err().message.contains("message herex"));
        assert_eq!(word("${VAR?}", &unset, '\\').unwrap_err().message, "VAR: is not allowed to be unset");
    }

    #[test]
    fn pattern_modifiers() {
        let vars = env(&["F=file.tar.gz", "P=/usr/local/bin", "E="]);
        let w = |s: &str| word(s, &vars, '\\').unwrap();
        assert_eq!(w("${F%.*}"), "file.tar");
        assert_eq!(w("${F%%.*}"), "file");
        assert_eq!(w("${F#*.}"), "tar.gz");
        assert_eq!(w("${F##*.}"), "gz");
        assert_eq!(w("${P/\\//:}"), ":usr/local/bin");
        assert_eq!(w("${P//\\//:}"), ":usr:local:bin");
        assert_eq!(w("${P//l*l/X}"), "/usr/X/bin");
        assert_eq!(w("${P/?/}"), "usr/local/bin");
        assert_eq!(w("${U#x}"), "");
        assert!(word("${F:#x}", &vars, '\\').is_err());
        assert!(word("${F#\\x}", &vars, '\\').is_err());
    }

    #[test]
    fn regex_helpers_as_buildkit() {
        assert_eq!(shell_pattern_regex("*", true, true).unwrap().as_str(), "^.*");
        assert_eq!(shell_pattern_regex("?", true, true).unwrap().as_str(), "^.");
        assert_eq!(shell_pattern_regex("\\*", true, true).unwrap().as_str(), "^\\*");
        for bad in ["\\", "\\x", "\\\\\\"] {
            assert!(shell_pattern_regex(bad, true, true).is_err(), "{bad}");
        }
        assert_eq!(reverse_pattern("a\\*c"), "c\\*a");
        assert_eq!(reverse_pattern("\\\\\\ab"), "b\\a\\\\");
        assert_eq!(reverse_pattern("ab\\"), "\\ba");
        assert_eq!(reverse_pattern("\\\\b"), "b\\\\");
    }

    #[test]
    fn backtick_escape() {
        let vars = env(&["A=x"]);
        assert_eq!(word("a`$A", &vars, '`').unwrap(), "a$A");
        assert_eq!(word("c:\\path\\$A", &vars, '`').unwrap(), "c:\\path\\x");
        assert_eq!(word("\"a`\"b\"", &vars, '`').unwrap(), "a\"b");
        assert_eq!(words("a` b c", &vars, '`').unwrap(), vec!["a b", "c"]);
    }

    #[test]
    fn words_with_nested_default_keep_the_prefix() {
        // BuildKit loses "ab" here (a shared buffer); a shell gives "abc d".
        let vars = env(&[]);
        assert_eq!(words("ab${X:-c d}", &vars, '\\').unwrap(), vec!["abc", "d"]);
    }

    #[test]
    fn heredoc_bodies_expand_variables_only() {
        let vars = env(&["NAME=me"]);
        assert_eq!(heredoc("hello $NAME \"${NAME}\" '$NAME'\n", &vars).unwrap(), "hello me \"me\" 'me'\n");
        assert_eq!(heredoc("\\$NAME ${X:-d}\n", &vars).unwrap(), "$NAME d\n");
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let text = "${a:-".repeat(10_000) + &"}".repeat(10_000);
        assert!(word(&text, &NoVars, '\\').is_err());
        let ok = "${a:-".repeat(10) + "x" + &"}".repeat(10);
        assert_eq!(word(&ok, &NoVars, '\\').unwrap(), "x");
    }

    proptest::proptest! {
        #[test]
        fn never_panics(s in "[$ {}:+?#%/\\\\'\"`a-c<-]{0,200}") {
            let vars = env(&["a=1 2", "b="]);
            let _ = word(&s, &vars, '\\');
            let _ = words(&s, &vars, '`');
            let _ = heredoc(&s, &vars);
        }

        #[test]
        fn never_panics_any_text(s in "\\PC{0,300}") {
            let _ = word(&s, &NoVars, '\\');
            let _ = words(&s, &NoVars, '\\');
        }
    }
}
