//! `.dockerignore`: Docker's pattern rules (Go's `filepath.Match` plus `**`, `!`
//! exceptions, the last matching pattern wins, paths cleaned, a leading `/` ignored).
//!
//! Follows moby's `patternmatcher` (`New`, `MatchesOrParentMatches`) and
//! `patternmatcher/ignorefile` (`ReadAll`): a pattern matching a directory matches
//! everything below it. Where moby turns a pattern into a Go regular expression, this
//! module runs the same pattern as an automaton over the path's characters (time
//! linear in path × pattern, whatever the `*`s and `**`s), with these deliberate
//! differences in corner cases moby gets from its regex translation:
//! - `\c` is the character `c` (moby's regex reads `\d`, `\w`, ... as classes);
//! - `*` and `?` inside `[...]` are characters (as in `filepath.Match`);
//! - a range written backwards (`[z-a]`) is refused when parsed (moby accepts the
//!   file and then fails every match).
//!
//! As in moby, `[^...]` negates a class (`[!...]` does not: `!` is a character) and a
//! class may match `/`.

use crate::ParseError;

/// A parsed `.dockerignore`.
#[derive(Debug, Clone, Default)]
pub struct Ignore {
    patterns: Vec<Pattern>,
    exclusions: bool,
}

/// One pattern line, cleaned and compiled.
#[derive(Debug, Clone)]
struct Pattern {
    /// `!pattern`: an exception.
    exclusion: bool,
    /// The pattern after `filepath.Clean`, without `!`.
    cleaned: String,
    /// How it matches (moby's match types).
    kind: MatchKind,
    /// The compiled pattern (used for `Regexp`, and by `may_include_below`).
    tokens: Vec<Tok>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MatchKind {
    /// No wildcard: the path equals the pattern.
    Exact,
    /// `literal**`: the path starts with the literal.
    Prefix,
    /// `**literal`: the path ends with it (or is it without its leading `/`).
    Suffix,
    /// Anything else: the automaton.
    Regexp,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    /// One character.
    Lit(char),
    /// `?`: one character but `/`.
    Any,
    /// `*`: any characters but `/`.
    Star,
    /// `**` (and `**/`) not at the end: `(.*/)?`.
    DoubleStar,
    /// `**` at the end: `.*`.
    DoubleStarEnd,
    /// `[...]`: one character in (or, negated, not in) the ranges.
    Class { negated: bool, ranges: Vec<(char, char)> },
}

impl Ignore {
    /// Parses the file's text (comments `#`, blank lines, surrounding spaces ignored).
    pub fn parse(text: &str) -> Result<Ignore, crate::ParseError> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut ignore = Ignore::default();
        for (i, line) in text.lines().enumerate() {
            let err = |message: String| ParseError { line: i + 1, message };
            // ignorefile.ReadAll: comments only when `#` is the very first character.
            if line.starts_with('#') {
                continue;
            }
            let mut pattern = line.trim();
            if pattern.is_empty() {
                continue;
            }
            let exclusion = pattern.starts_with('!');
            if exclusion {
                pattern = pattern[1..].trim();
            }
            let mut cleaned = String::new();
            if !pattern.is_empty() {
                cleaned = clean(pattern);
                if cleaned.len() > 1 && cleaned.starts_with('/') {
                    cleaned.remove(0);
                }
            }
            if exclusion && cleaned.is_empty() {
                return Err(err("illegal exclusion pattern: \"!\"".into()));
            }
            let cleaned = clean(&cleaned);
            let (kind, tokens) = compile(&cleaned).map_err(|e| err(format!("invalid pattern {cleaned:?}: {e}")))?;
            ignore.exclusions |= exclusion;
            ignore.patterns.push(Pattern { exclusion, cleaned, kind, tokens });
        }
        Ok(ignore)
    }

    /// Whether the context path `path` (relative, `/`-separated) is excluded.
    pub fn excludes(&self, path: &str) -> bool {
        let path = clean(path.trim_start_matches('/'));
        if path == "." || path.is_empty() {
            // Docker never excludes the context itself.
            return false;
        }
        self.matches_or_parent_matches(&path)
    }

    /// moby's `MatchesOrParentMatches` on an already cleaned path.
    fn matches_or_parent_matches(&self, path: &str) -> bool {
        let mut matched = false;
        for p in &self.patterns {
            // An inclusion cannot change an already matched path, nor an exception an
            // unmatched one.
            if p.exclusion != matched {
                continue;
            }
            if p.matches_self_or_parent(path) {
                matched = !p.exclusion;
            }
        }
        matched
    }

    /// Whether a directory that is excluded may still hold a file an exception (`!`)
    /// brings back, so a walk must descend into it.
    pub fn may_include_below(&self, dir: &str) -> bool {
        if !self.exclusions {
            return false;
        }
        let dir = clean(dir.trim_start_matches('/'));
        let below = if dir == "." { String::new() } else { format!("{dir}/") };
        self.patterns.iter().filter(|p| p.exclusion).any(|p| p.may_match_below(&below))
    }
}

impl Pattern {
    /// The pattern matches the path or one of its parent directories.
    fn matches_self_or_parent(&self, path: &str) -> bool {
        if self.kind == MatchKind::Regexp {
            // One run of the automaton: accepted at the end or just before a `/`.
            return run(&self.tokens, path, true).accepted_any;
        }
        if self.matches(path) {
            return true;
        }
        path.match_indices('/').any(|(i, _)| i > 0 && self.matches(&path[..i]))
    }

    /// One path, for the non-automaton kinds.
    fn matches(&self, path: &str) -> bool {
        match self.kind {
            MatchKind::Exact => path == self.cleaned,
            MatchKind::Prefix => path.starts_with(&self.cleaned[..self.cleaned.len() - 2]),
            MatchKind::Suffix => {
                let suffix = &self.cleaned[2..];
                path.ends_with(suffix) || suffix.strip_prefix('/').is_some_and(|s| path == s)
            }
            MatchKind::Regexp => run(&self.tokens, path, false).accepted_end,
        }
    }

    /// Could this pattern match `below` (a directory followed by `/`, or empty for
    /// the top) or something under it? Errs on the side of yes.
    fn may_match_below(&self, below: &str) -> bool {
        match self.kind {
            MatchKind::Exact => self.cleaned.starts_with(below) || below.starts_with(&format!("{}/", self.cleaned)),
            MatchKind::Prefix => {
                let prefix = &self.cleaned[..self.cleaned.len() - 2];
                prefix.starts_with(below) || below.starts_with(prefix)
            }
            MatchKind::Suffix => true,
            MatchKind::Regexp => {
                let r = run(&self.tokens, below, true);
                r.accepted_any || r.alive
            }
        }
    }
}

/// Go's `path.Clean`: one `/` between names, no `.` names, `..` resolved, no trailing
/// `/`; `.` when nothing is left.
pub(crate) fn clean(path: &str) -> String {
    let rooted = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|p| *p != "..") {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                }
            }
            p => parts.push(p),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".into(),
        (false, false) => joined,
    }
}

/// moby's `Pattern.compile` (match type detection) and Go's `filepath.Match` syntax
/// check, into tokens.
fn compile(pattern: &str) -> Result<(MatchKind, Vec<Tok>), String> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut tokens = Vec::new();
    let mut kind = MatchKind::Exact;
    let mut pos = 0;
    let mut first = true;
    while pos < chars.len() {
        let ch = chars[pos];
        pos += 1;
        match ch {
            '*' if chars.get(pos) == Some(&'*') => {
                pos += 1;
                if chars.get(pos) == Some(&'/') {
                    pos += 1;
                }
                if pos == chars.len() {
                    tokens.push(Tok::DoubleStarEnd);
                    kind = if kind == MatchKind::Exact { MatchKind::Prefix } else { MatchKind::Regexp };
                } else {
                    tokens.push(Tok::DoubleStar);
                    kind = MatchKind::Regexp;
                }
                if first {
                    kind = MatchKind::Suffix;
                }
            }
            '*' => {
                tokens.push(Tok::Star);
                kind = MatchKind::Regexp;
            }
            '?' => {
                tokens.push(Tok::Any);
                kind = MatchKind::Regexp;
            }
            '\\' => {
                let Some(&next) = chars.get(pos) else {
                    return Err("syntax error in pattern (trailing \\)".into());
                };
                pos += 1;
                tokens.push(Tok::Lit(next));
                kind = MatchKind::Regexp;
            }
            '[' => {
                let (tok, end) = class(&chars, pos)?;
                tokens.push(tok);
                pos = end;
                kind = MatchKind::Regexp;
            }
            ']' => {
                tokens.push(Tok::Lit(']'));
                kind = MatchKind::Regexp;
            }
            c => tokens.push(Tok::Lit(c)),
        }
        first = false;
    }
    Ok((kind, tokens))
}

/// A `[...]` class starting after `[` at `pos`; returns it and the position after `]`.
fn class(chars: &[char], mut pos: usize) -> Result<(Tok, usize), String> {
    let bad = || "syntax error in pattern (bad character class)".to_string();
    let negated = chars.get(pos) == Some(&'^');
    if negated {
        pos += 1;
    }
    // One character of a range: escaped, or anything but an unescaped `-` or `]`.
    let esc = |pos: &mut usize| -> Result<char, String> {
        let c = *chars.get(*pos).ok_or_else(bad)?;
        if c == '-' || c == ']' {
            return Err(bad());
        }
        *pos += 1;
        if c == '\\' {
            let e = *chars.get(*pos).ok_or_else(bad)?;
            *pos += 1;
            return Ok(e);
        }
        Ok(c)
    };
    let mut ranges = Vec::new();
    loop {
        if chars.get(pos) == Some(&']') && !ranges.is_empty() {
            return Ok((Tok::Class { negated, ranges }, pos + 1));
        }
        let lo = esc(&mut pos)?;
        let mut hi = lo;
        if chars.get(pos) == Some(&'-') {
            pos += 1;
            hi = esc(&mut pos)?;
            if hi < lo {
                return Err(format!("invalid character class range {lo}-{hi}"));
            }
        }
        ranges.push((lo, hi));
    }
}

/// What a run of the automaton found.
struct RunResult {
    /// The whole text matched.
    accepted_end: bool,
    /// The text, or a prefix of it ending just before a `/`, matched (a parent
    /// directory); only computed when asked.
    accepted_any: bool,
    /// Some state other than the final one is still live at the end (the text could
    /// be continued into a match).
    alive: bool,
}

/// Runs the tokens over `text` as an NFA (anchored at both ends). States are
/// `2 * token index` (at the token) and `2 * index + 1` (inside a `**`, which must
/// end with `/`).
fn run(tokens: &[Tok], text: &str, parents: bool) -> RunResult {
    let n = tokens.len();
    let size = 2 * n + 2;
    let mut cur = vec![false; size];
    let mut next = vec![false; size];
    let mut stack = Vec::new();
    add(tokens, &mut cur, &mut stack, 0);
    let final_state = 2 * n;
    let mut accepted_any = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        next.iter_mut().for_each(|s| *s = false);
        let mut any = false;
        for (state, _) in cur[..final_state].iter().enumerate().filter(|(_, on)| **on) {
            let i = state / 2;
            let inside = state % 2 == 1;
            let tok = &tokens[i];
            let mut to = |s: usize, next: &mut Vec<bool>, stack: &mut Vec<usize>| {
                any = true;
                add(tokens, next, stack, s);
            };
            match tok {
                Tok::DoubleStar if inside => {
                    to(state, &mut next, &mut stack);
                    if c == '/' {
                        to(2 * (i + 1), &mut next, &mut stack);
                    }
                }
                Tok::Lit(l) if *l == c => to(2 * (i + 1), &mut next, &mut stack),
                Tok::Any if c != '/' => to(2 * (i + 1), &mut next, &mut stack),
                Tok::Star if c != '/' => to(state, &mut next, &mut stack),
                Tok::DoubleStarEnd => to(state, &mut next, &mut stack),
                Tok::Class { negated, ranges } => {
                    let within = ranges.iter().any(|(lo, hi)| *lo <= c && c <= *hi);
                    if within != *negated {
                        to(2 * (i + 1), &mut next, &mut stack);
                    }
                }
                _ => {}
            }
        }
        std::mem::swap(&mut cur, &mut next);
        if !any {
            return RunResult { accepted_end: false, accepted_any, alive: false };
        }
        if parents && chars.peek() == Some(&'/') && cur[final_state] {
            accepted_any = true;
        }
    }
    let accepted_end = cur[final_state];
    RunResult { accepted_end, accepted_any: accepted_any || accepted_end, alive: cur[..final_state].iter().any(|s| *s) }
}

/// Adds a state and the states it reaches without reading a character.
fn add(tokens: &[Tok], set: &mut [bool], stack: &mut Vec<usize>, state: usize) {
    stack.push(state);
    while let Some(s) = stack.pop() {
        if set[s] {
            continue;
        }
        set[s] = true;
        if s % 2 == 1 || s / 2 >= tokens.len() {
            continue;
        }
        let i = s / 2;
        match tokens[i] {
            Tok::Star | Tok::DoubleStarEnd => stack.push(2 * (i + 1)),
            Tok::DoubleStar => {
                stack.push(2 * (i + 1));
                stack.push(2 * i + 1);
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ig(patterns: &[&str]) -> Ignore {
        Ignore::parse(&patterns.join("\n")).unwrap_or_else(|e| panic!("{patterns:?}: {e}"))
    }

    /// moby patternmatcher's `TestMatches` table (MatchesOrParentMatches, raw text).
    #[test]
    fn moby_matches_table() {
        let tests: &[(&str, &str, bool)] = &[
            ("**", "file", true),
            ("**", "file/", true),
            ("**/", "file", true),
            ("**/", "file/", true),
            ("**", "/", true),
            ("**/", "/", true),
            ("**", "dir/file", true),
            ("**/", "dir/file", true),
            ("**", "dir/file/", true),
            ("**/", "dir/file/", true),
            ("**/**", "dir/file", true),
            ("**/**", "dir/file/", true),
            ("dir/**", "dir/file", true),
            ("dir/**", "dir/file/", true),
            ("dir/**", "dir/dir2/file", true),
            ("dir/**", "dir/dir2/file/", true),
            ("**/dir", "dir", true),
            ("**/dir", "dir/file", true),
            ("**/dir2/*", "dir/dir2/file", true),
            ("**/dir2/*", "dir/dir2/file/", true),
            ("**/dir2/**", "dir/dir2/dir3/file", true),
            ("**/dir2/**", "dir/dir2/dir3/file/", true),
            ("**file", "file", true),
            ("**file", "dir/file", true),
            ("**/file", "dir/file", true),
            ("**file", "dir/dir/file", true),
            ("**/file", "dir/dir/file", true),
            ("**/file*", "dir/dir/file", true),
            ("**/file*", "dir/dir/file.txt", true),
            ("**/file*txt", "dir/dir/file.txt", true),
            ("**/file*.txt", "dir/dir/file.txt", true),
            ("**/file*.txt*", "dir/dir/file.txt", true),
            ("**/**/*.txt", "dir/dir/file.txt", true),
            ("**/**/*.txt2", "dir/dir/file.txt", false),
            ("**/*.txt", "file.txt", true),
            ("**/**/*.txt", "file.txt", true),
            ("a**/*.txt", "a/file.txt", true),
            ("a**/*.txt", "a/dir/file.txt", true),
            ("a**/*.txt", "a/dir/dir/file.txt", true),
            ("a/*.txt", "a/dir/file.txt", false),
            ("a/*.txt", "a/file.txt", true),
            ("a/*.txt**", "a/file.txt", true),
            ("a[b-d]e", "ae", false),
            ("a[b-d]e", "ace", true),
            ("a[b-d]e", "aae", false),
            ("a[^b-d]e", "aze", true),
            (".*", ".foo", true),
            (".*", "foo", false),
            ("abc.def", "abcdef", false),
            ("abc.def", "abc.def", true),
            ("abc.def", "abcZdef", false),
            ("abc?def", "abcZdef", true),
            ("abc?def", "abcdef", false),
            ("a\\\\", "a\\", true),
            ("**/foo/bar", "foo/bar", true),
            ("**/foo/bar", "dir/foo/bar", true),
            ("**/foo/bar", "dir/dir2/foo/bar", true),
            ("abc/**", "abc", false),
            ("abc/**", "abc/def", true),
            ("abc/**", "abc/def/ghi", true),
            ("**/.foo", ".foo", true),
            ("**/.foo", "bar.foo", false),
            ("a(b)c/def", "a(b)c/def", true),
            ("a(b)c/def", "a(b)c/xyz", false),
            ("a.|)$(}+{bc", "a.|)$(}+{bc", true),
            (
                "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
                "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
                true,
            ),
            ("dist/*.whl", "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", true),
            ("a\\*b", "a*b", true),
        ];
        for (pattern, text, pass) in tests {
            let i = ig(&[pattern]);
            assert_eq!(i.matches_or_parent_matches(text), *pass, "{pattern:?} {text:?}");
        }
        let multi: &[(&[&str], &str, bool)] = &[
            (&["**", "!util/docker/web"], "util/docker/web/foo", false),
            (&["**", "!util/docker/web", "util/docker/web/foo"], "util/docker/web/foo", true),
            (
                &["**", "!dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl"],
                "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
                false,
            ),
            (&["**", "!dist/*.whl"], "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", false),
        ];
        for (patterns, text, pass) in multi {
            assert_eq!(ig(patterns).matches_or_parent_matches(text), *pass, "{patterns:?} {text:?}");
        }
    }

    /// The `filepath.Match` table moby's tests borrow from Go (`TestMatch`).
    #[test]
    fn go_filepath_match_table() {
        let tests: &[(&str, &str, Option<bool>)] = &[
            ("abc", "abc", Some(true)),
            ("*", "abc", Some(true)),
            ("*c", "abc", Some(true)),
            ("a*", "a", Some(true)),
            ("a*", "abc", Some(true)),
            ("a*", "ab/c", Some(true)),
            ("a*/b", "abc/b", Some(true)),
            ("a*/b", "a/c/b", Some(false)),
            ("a*b*c*d*e*/f", "axbxcxdxe/f", Some(true)),
            ("a*b*c*d*e*/f", "axbxcxdxexxx/f", Some(true)),
            ("a*b*c*d*e*/f", "axbxcxdxe/xxx/f", Some(false)),
            ("a*b*c*d*e*/f", "axbxcxdxexxx/fff", Some(false)),
            ("a*b?c*x", "abxbbxdbxebxczzx", Some(true)),
            ("a*b?c*x", "abxbbxdbxebxczzy", Some(false)),
            ("ab[c]", "abc", Some(true)),
            ("ab[b-d]", "abc", Some(true)),
            ("ab[e-g]", "abc", Some(false)),
            ("ab[^c]", "abc", Some(false)),
            ("ab[^b-d]", "abc", Some(false)),
            ("ab[^e-g]", "abc", Some(true)),
            ("a\\*b", "a*b", Some(true)),
            ("a\\*b", "ab", Some(false)),
            ("a?b", "a☺b", Some(true)),
            ("a[^a]b", "a☺b", Some(true)),
            ("a???b", "a☺b", Some(false)),
            ("a[^a][^a][^a]b", "a☺b", Some(false)),
            ("[a-ζ]*", "α", Some(true)),
            ("*[a-ζ]", "A", Some(false)),
            ("a?b", "a/b", Some(false)),
            ("a*b", "a/b", Some(false)),
            ("[\\]a]", "]", Some(true)),
            ("[\\-]", "-", Some(true)),
            ("[x\\-]", "x", Some(true)),
            ("[x\\-]", "-", Some(true)),
            ("[x\\-]", "z", Some(false)),
            ("[\\-x]", "x", Some(true)),
            ("[\\-x]", "-", Some(true)),
            ("[\\-x]", "a", Some(false)),
            ("[]a]", "]", None),
            ("[-]", "-", None),
            ("[x-]", "x", None),
            ("[x-]", "-", None),
            ("[x-]", "z", None),
            ("[-x]", "x", None),
            ("[-x]", "-", None),
            ("[-x]", "a", None),
            ("\\", "a", None),
            ("[a-b-c]", "a", None),
            ("[", "a", None),
            ("[^", "a", None),
            ("[^bc", "a", None),
            ("a[", "a", None),
            ("a[", "ab", None),
            ("*x", "xxx", Some(true)),
        ];
        for (pattern, text, want) in tests {
            match (Ignore::parse(pattern), want) {
                (Ok(i), Some(w)) => assert_eq!(i.excludes(text), *w, "{pattern:?} {text:?}"),
                (Err(_), None) => {}
                (got, _) => panic!("{pattern:?} {text:?}: {got:?}"),
            }
        }
    }

    /// moby's `TestCompile` match types.
    #[test]
    fn moby_match_types() {
        use MatchKind::*;
        for (pattern, kind) in [
            ("*", Regexp),
            ("file*", Regexp),
            ("*file", Regexp),
            ("a*/b", Regexp),
            ("**", Suffix),
            ("**/**", Regexp),
            ("dir/**", Prefix),
            ("**/dir", Suffix),
            ("**/dir2/*", Regexp),
            ("**/dir2/**", Regexp),
            ("**file", Suffix),
            ("**/file*txt", Regexp),
            ("**/**/*.txt", Regexp),
            ("a[b-d]e", Regexp),
            (".*", Regexp),
            ("abc.def", Exact),
            ("abc?def", Regexp),
            ("**/foo/bar", Suffix),
            ("a(b)c/def", Exact),
            ("a.|)$(}+{bc", Exact),
        ] {
            assert_eq!(compile(&clean(pattern)).unwrap().0, kind, "{pattern}");
        }
        // `**file` is a suffix match in moby: it matches `barfile` too.
        assert!(ig(&["**file"]).excludes("a/barfile"));
    }

    #[test]
    fn moby_simple_cases() {
        assert!(ig(&["*"]).excludes("fileutils.go"));
        assert!(ig(&["*.go"]).excludes("fileutils.go"));
        assert!(ig(&["!fileutils.go", "*.go"]).excludes("fileutils.go"));
        assert!(!ig(&["docs", "!docs/README.md"]).excludes("docs/README.md"));
        assert!(!ig(&["docs/", "!docs/README.md"]).excludes("docs/README.md"));
        assert!(!ig(&["docs/*", "!docs/README.md"]).excludes("docs/README.md"));
        assert!(!ig(&["*.go", "!fileutils.go"]).excludes("fileutils.go"));
        assert!(!ig(&["*.go"]).excludes("."));
        assert!(!ig(&[]).excludes("any/path/there"));
        assert!(Ignore::parse("!").is_err());
        assert!(Ignore::parse("[").is_err());
        assert!(Ignore::parse("docs\n  !docs/README.md").unwrap().exclusions);
        assert!(Ignore::parse("docs\n!docs/README.md  ").unwrap().exclusions);
        assert!(Ignore::parse("[Local-Only]/").is_err());
    }

    /// moby ignorefile's `TestReadAll`, and cleaning.
    #[test]
    fn read_all_rules() {
        let i = Ignore::parse("test1\n/test2\n/a/file/here\n\nlastfile\n# this is a comment\n! /inverted/abs/path\n")
            .unwrap();
        let got: Vec<(bool, &str)> = i.patterns.iter().map(|p| (p.exclusion, p.cleaned.as_str())).collect();
        assert_eq!(
            got,
            vec![
                (false, "test1"),
                (false, "test2"),
                (false, "a/file/here"),
                (false, "lastfile"),
                (true, "inverted/abs/path"),
            ]
        );
        assert!(Ignore::parse("a\n!\n").is_err());
        assert_eq!(Ignore::parse("a\n! \n").unwrap_err().line, 2);
        // Only a `#` in the first column starts a comment.
        assert!(ig(&[" #x"]).excludes("#x"));
        assert!(!ig(&["#x"]).excludes("#x"));
        // Paths and patterns are cleaned.
        let i = ig(&["./a/../b/", "c//d"]);
        for p in ["b", "./b", "b/", "/b", "b/x", "c/d", "c/d/e", "./c//d"] {
            assert!(i.excludes(p), "{p}");
        }
        assert!(!i.excludes("a") && !i.excludes("c") && !i.excludes("bb"));
        assert_eq!(clean("../a/./b/../../.."), "../..");
        assert_eq!(clean("/../a"), "/a");
        assert_eq!(clean(""), ".");
        // A byte-order mark and CRLF.
        assert!(Ignore::parse("\u{feff}x\r\n").unwrap().excludes("x"));
    }

    #[test]
    fn last_match_wins_and_parents() {
        let i = ig(&["*.md", "!README*.md", "README-secret.md"]);
        assert!(i.excludes("CHANGES.md"));
        assert!(!i.excludes("README.md"));
        assert!(i.excludes("README-secret.md"));
        // A directory pattern excludes everything below; an exception brings one back.
        let i = ig(&["node_modules", "!node_modules/keep/**", "build/**/*.o"]);
        assert!(i.excludes("node_modules"));
        assert!(i.excludes("node_modules/x/y.js"));
        assert!(!i.excludes("node_modules/keep/a.js"));
        assert!(i.excludes("build/a/b/c.o"));
        assert!(i.excludes("build/c.o"));
        assert!(!i.excludes("build/c.c"));
        // `*` does not cross `/`, `**` does.
        let i = ig(&["*/temp*", "**/*.tmp"]);
        assert!(i.excludes("somedir/temporary.txt"));
        assert!(i.excludes("somedir/temp"));
        assert!(!i.excludes("somedir/sub/temp"));
        assert!(i.excludes("a/b/c/x.tmp"));
        assert!(i.excludes("x.tmp"));
        // Classes with `!` are characters (moby's regex), `^` negates.
        let i = ig(&["[!a]x"]);
        assert!(i.excludes("!x") && i.excludes("ax") && !i.excludes("bx"));
    }

    #[test]
    fn may_include_below() {
        let i = ig(&["node_modules", "!node_modules/keep/a.js", "dist", "logs/**", "!**/*.keep"]);
        assert!(i.may_include_below("node_modules"));
        assert!(i.may_include_below("node_modules/keep"));
        // `**/*.keep` could be anywhere.
        assert!(i.may_include_below("dist"));
        let i = ig(&["node_modules", "!node_modules/keep/a.js", "dist", "!src/*.c", "!lib*/**"]);
        assert!(i.may_include_below("node_modules"));
        assert!(i.may_include_below("./node_modules/"));
        assert!(!i.may_include_below("node_modules/other"));
        assert!(!i.may_include_below("dist"));
        assert!(i.may_include_below("src"));
        assert!(!i.may_include_below("src/sub"));
        assert!(i.may_include_below("libfoo"));
        assert!(i.may_include_below("lib/x"));
        assert!(!i.may_include_below("li"));
        let i = ig(&["*/x", "!a?/y"]);
        assert!(i.may_include_below("ab"));
        assert!(!i.may_include_below("b"));
        assert!(!i.may_include_below("abc"));
        assert!(!ig(&["a"]).may_include_below("a"));
        assert!(ig(&["a", "!a/b"]).may_include_below("a"));
        assert!(!ig(&["a", "!ab"]).may_include_below("a"));
        // An exception on the directory itself or a parent: conservatively yes.
        assert!(ig(&["!a", "a"]).may_include_below("a/b"));
    }

    #[test]
    fn double_stars_do_not_backtrack() {
        // A backtracking matcher takes exponential time here; the automaton is linear.
        let i = ig(&["**/**/**/**/**/**/**/**/**/**/**/**/a", "!x/**/*/**/*/**/*/**/*/**/*/**/b"]);
        let deep = "x/".repeat(2000) + "c";
        assert!(!i.excludes(&deep));
        assert!(i.excludes(&("x/".repeat(2000) + "a")));
        assert!(!i.excludes(&("x/".repeat(2000) + "b")));
        assert!(i.may_include_below(&"x/".repeat(2000)));
        assert!(!i.may_include_below(&("y/".repeat(2000))));
        let star = ig(&["*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b"]);
        assert!(!star.excludes(&"a".repeat(5000)));
        assert!(star.excludes(&("a".repeat(5000) + "b")));
    }

    proptest::proptest! {
        #[test]
        fn never_panics(
            patterns in proptest::collection::vec("[!*?\\[\\]\\\\^/a-c.-]{0,12}", 0..6),
            path in "[/a-c.*?\\[\\]-]{0,30}",
        ) {
            if let Ok(i) = Ignore::parse(&patterns.join("\n")) {
                let _ = i.excludes(&path);
                let _ = i.may_include_below(&path);
            }
        }

        /// Without wildcards, excludes is "the path or a parent equals the pattern".
        #[test]
        fn literal_patterns_match_paths_and_parents(
            pattern in "[a-c]{1,3}(/[a-c]{1,3}){0,2}",
            path in "[a-c]{1,3}(/[a-c]{1,3}){0,3}",
        ) {
            let i = ig(&[&pattern]);
            let expected = path == pattern || path.starts_with(&format!("{pattern}/"));
            proptest::prop_assert_eq!(i.excludes(&path), expected);
        }
    }
}
