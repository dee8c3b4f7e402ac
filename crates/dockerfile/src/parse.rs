//! The parser: directives, comments, line continuations, heredocs, instruction flags,
//! JSON (exec) forms and the stage structure.
//!
//! Two layers, as in BuildKit (`frontend/dockerfile/parser` and `instructions`): the
//! lines are first read into [`RawNode`]s (instruction name, flags, argument list,
//! heredocs), with BuildKit's rules for what a line, a comment, a continuation and a
//! heredoc are; then each node is checked and typed into an [`Instruction`].

use crate::ParseError;
use crate::ast::{
    ArgDecl, Command, Copy, Directives, Dockerfile, Healthcheck, Heredoc, Instruction, KeyValue, Kind, MountKind, Run,
    RunMount, Source, Stage,
};
use crate::expand::{Lexer, NoVars};
use std::collections::HashSet;

/// Parses a whole Dockerfile.
pub fn parse(text: &str) -> Result<Dockerfile, ParseError> {
    let raw = parse_raw(text)?;
    let mut global_args = Vec::new();
    let mut stages: Vec<Stage> = Vec::new();
    for node in raw.nodes {
        let line = node.line;
        let err = |message: String| ParseError { line, message };
        if node.cmd.eq_ignore_ascii_case("from") {
            let stage = parse_from(&node, stages.len()).map_err(err)?;
            stages.push(stage);
            continue;
        }
        let instruction = typed(&node).map_err(err)?;
        match stages.last_mut() {
            Some(stage) => stage.instructions.push(instruction),
            None => match instruction.kind {
                Kind::Arg(args) => global_args.extend(args),
                _ => return Err(err("no build stage in current context".into())),
            },
        }
    }
    if stages.is_empty() {
        return Err(ParseError { line: raw.last_line, message: "dockerfile contains no stages to build".into() });
    }
    Ok(Dockerfile { directives: raw.directives, global_args, stages })
}

/// Parses one `ONBUILD` trigger stored in a base image (as [`onbuild_expression`]
/// wrote it) when a build starts `FROM` that image: a one-instruction Dockerfile with
/// the default escape character, as BuildKit reads it. `FROM`, `ONBUILD` and
/// `MAINTAINER` are refused.
pub fn parse_trigger(text: &str) -> Result<Instruction, ParseError> {
    let raw = parse_raw(text)?;
    let [node] = raw.nodes.as_slice() else {
        return Err(ParseError {
            line: 1,
            message: format!("an ONBUILD trigger must be one instruction: {}", go_quote(text)),
        });
    };
    let err = |message: String| ParseError { line: node.line, message };
    let upper = node.cmd.to_ascii_uppercase();
    if matches!(upper.as_str(), "FROM" | "ONBUILD" | "MAINTAINER") {
        return Err(err(format!("{upper} isn't allowed as an ONBUILD trigger")));
    }
    typed(node).map_err(err)
}

/// The text an `ONBUILD` trigger is stored as in the image config (BuildKit's
/// `Expression`): the trigger's instruction, then each heredoc's body and delimiter.
pub fn onbuild_expression(trigger: &Instruction) -> String {
    let mut out = trigger.source.original.clone();
    let heredocs = match &trigger.kind {
        Kind::Run(r) => r.heredocs.as_slice(),
        Kind::Copy(c) | Kind::Add(c) => c.heredocs.as_slice(),
        _ => &[],
    };
    for h in heredocs {
        out.push('\n');
        out.push_str(&h.content);
        out.push_str(&h.name);
    }
    out
}

/// What a `RUN` with heredocs runs, as BuildKit's `dispatchRun` decides it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeredocRun<'a> {
    /// Run this text with the shell (`SHELL`, `/bin/sh -c` by default): the lone
    /// heredoc's body (`RUN <<EOF`), or the command line followed by each body and its
    /// delimiter (`RUN python3 <<EOF`), for the shell to read as a heredoc.
    Shell(String),
    /// A lone heredoc whose body starts with `#!`: write `content` to a file `name`
    /// (mode 0755, BuildKit mounts it under `/dev/pipes/`) and run that file itself.
    Script {
        /// The delimiter, used as the file name.
        name: &'a str,
        /// The body.
        content: &'a str,
    },
}

/// For a `RUN` with heredocs, what to run; None without heredocs.
pub fn heredoc_run(run: &Run) -> Option<HeredocRun<'_>> {
    let first = run.heredocs.first()?;
    let Command::Shell(line) = &run.command else { return None };
    if parse_heredoc(line.trim()).ok().flatten().is_some() {
        if first.content.starts_with("#!") {
            return Some(HeredocRun::Script { name: &first.name, content: &first.content });
        }
        return Some(HeredocRun::Shell(first.content.clone()));
    }
    let mut full = line.clone();
    for h in &run.heredocs {
        full.push('\n');
        full.push_str(&h.content);
        full.push_str(&h.name);
    }
    Some(HeredocRun::Shell(full))
}

// ---------------------------------------------------------------------------------
// Raw layer: lines, directives, continuations, heredocs.

/// One instruction as read, before typing (BuildKit's `parser.Node`).
#[derive(Debug, Clone)]
pub(crate) struct RawNode {
    /// The instruction name as written (`run`, `RUN`).
    cmd: String,
    /// `--name[=value]` words before the arguments, quotes removed.
    flags: Vec<String>,
    /// The arguments as BuildKit's line parsers list them.
    args: Vec<String>,
    /// The arguments were a JSON array.
    json: bool,
    /// `ONBUILD`'s trigger.
    sub: Option<Box<RawNode>>,
    /// Heredocs opened on the line, bodies read.
    heredocs: Vec<Heredoc>,
    /// The line, continuations joined, trimmed.
    original: String,
    /// 1-based first line.
    line: usize,
}

/// A Dockerfile read into raw nodes.
pub(crate) struct RawFile {
    directives: Directives,
    nodes: Vec<RawNode>,
    last_line: usize,
}

/// Parser directives at the top of the file, with BuildKit's rules: each line must be
/// `#` directly followed by `name=value` (a known name); the first line that is not
/// ends the directives, a repeated directive is an error.
struct DirectiveParser {
    done: bool,
    seen: HashSet<String>,
    directives: Directives,
}

impl DirectiveParser {
    fn line(&mut self, line: &str) -> Result<bool, String> {
        if self.done {
            return Ok(false);
        }
        let Some(rest) = line.strip_prefix('#') else {
            self.done = true;
            return Ok(false);
        };
        let rest = rest.trim_start();
        let Some((name, value)) = directive_match(rest) else {
            self.done = true;
            return Ok(false);
        };
        let name = name.to_ascii_lowercase();
        if !matches!(name.as_str(), "syntax" | "escape" | "check") {
            self.done = true;
            return Ok(false);
        }
        if !self.seen.insert(name.clone()) {
            return Err(format!("only one {name} parser directive can be used"));
        }
        match name.as_str() {
            "escape" => match value {
                "`" => self.directives.escape = '`',
                "\\" => self.directives.escape = '\\',
                _ => {
                    return Err(format!("invalid escape token '{value}' does not match ` or \\"));
                }
            },
            "syntax" => self.directives.syntax = Some(value.to_string()),
            _ => {}
        }
        Ok(true)
    }
}

/// `^([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$`
fn directive_match(s: &str) -> Option<(&str, &str)> {
    let first = s.chars().next()?;
    if !first.is_ascii_alphabetic() {
        return None;
    }
    let end = s.find(|c: char| !c.is_ascii_alphanumeric()).unwrap_or(s.len());
    let (name, rest) = s.split_at(end);
    let rest = rest.trim_start_matches(is_go_re_space).strip_prefix('=')?;
    let value = rest.trim_matches(is_go_re_space);
    (!value.is_empty()).then_some((name, value))
}

/// Go regexp's `\s`.
fn is_go_re_space(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\x0c' | '\r' | ' ')
}

/// BuildKit's `reWhitespace`: `[\t\v\f\r ]`.
fn is_re_ws(c: char) -> bool {
    matches!(c, '\t' | '\x0b' | '\x0c' | '\r' | ' ')
}

/// `reWhitespace.Split(s, -1)`.
fn ws_split(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_ws = false;
    for c in s.chars() {
        if is_re_ws(c) {
            if !in_ws {
                out.push(std::mem::take(&mut cur));
            }
            in_ws = true;
        } else {
            in_ws = false;
            cur.push(c);
        }
    }
    out.push(cur);
    out
}

/// `reWhitespace.Split(s, 2)`.
fn ws_split2(s: &str) -> (String, Option<String>) {
    match s.find(is_re_ws) {
        None => (s.to_string(), None),
        Some(i) => {
            let rest = s[i..].trim_start_matches(is_re_ws);
            (s[..i].to_string(), Some(rest.to_string()))
        }
    }
}

/// Whether the line ends in a continuation (the escape character, then only blanks,
/// not itself escaped); returns the line without it.
fn trim_continuation(line: &str, escape: char) -> (&str, bool) {
    let t = line.trim_end_matches([' ', '\t']);
    let Some(before) = t.strip_suffix(escape) else {
        return (line, true);
    };
    if before.is_empty() || !before.ends_with(escape) { (before, false) } else { (line, true) }
}

fn trim_newline(s: &str) -> &str {
    s.trim_end_matches(['\r', '\n'])
}

fn is_comment(line: &str) -> bool {
    line.trim_start().starts_with('#')
}

/// Reads the lines into raw nodes.
pub(crate) fn parse_raw(text: &str) -> Result<RawFile, ParseError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let mut d = DirectiveParser { done: false, seen: HashSet::new(), directives: Directives::default() };
    let mut nodes = Vec::new();
    let mut i = 0;
    let mut current = 0usize;
    let mut any = false;

    while i < lines.len() {
        // The first line of an instruction: leading blanks and comments dropped.
        let raw = trim_newline(lines[i]).trim_start();
        i += 1;
        current += 1;
        d.line(raw).map_err(|message| ParseError { line: current, message })?;
        let escape = d.directives.escape;
        let first = if raw.starts_with('#') { "" } else { raw };
        let start = current;
        let (text0, mut end) = trim_continuation(first, escape);
        if end && text0.is_empty() {
            continue;
        }
        let mut buf = text0.to_string();
        while !end && i < lines.len() {
            let next = trim_newline(lines[i]);
            i += 1;
            current += 1;
            d.line(next).map_err(|message| ParseError { line: current, message })?;
            if is_comment(next) {
                continue;
            }
            if next.trim_start().is_empty() {
                // An empty continuation line (BuildKit warns; it does not end it).
                continue;
            }
            let (t, e) = trim_continuation(next, escape);
            end = e;
            buf.push_str(t);
        }
        let err = |message: String| ParseError { line: start, message };
        let mut node = node_from_line(&buf, escape, 0).map_err(err)?;
        node.line = start;
        if node.can_contain_heredoc() && buf.contains("<<") {
            for mut doc in heredocs_from_line(&buf).map_err(err)? {
                let mut content = String::new();
                let mut terminated = false;
                while i < lines.len() {
                    let body = lines[i];
                    i += 1;
                    current += 1;
                    let mut candidate = trim_newline(body);
                    if doc.chomp {
                        candidate = candidate.trim_start_matches('\t');
                    }
                    if candidate == doc.name {
                        terminated = true;
                        break;
                    }
                    content.push_str(body);
                }
                if !terminated {
                    return Err(err("unterminated heredoc".into()));
                }
                if doc.chomp {
                    content = chomp(&content);
                }
                doc.content = content;
                node.heredocs.push(doc);
            }
        }
        any = true;
        nodes.push(node);
    }
    if !any {
        return Err(ParseError { line: current, message: "file with no instructions".into() });
    }
    Ok(RawFile { directives: d.directives, nodes, last_line: current })
}

/// `<<-`: leading tabs removed from every line.
fn chomp(s: &str) -> String {
    s.split_inclusive('\n').map(|l| l.trim_start_matches('\t')).collect()
}

impl RawNode {
    fn can_contain_heredoc(&self) -> bool {
        let node = match &self.sub {
            Some(sub) if self.cmd.eq_ignore_ascii_case("onbuild") => sub,
            _ => self,
        };
        ["add", "copy", "run"].iter().any(|c| node.cmd.eq_ignore_ascii_case(c)) && !node.json
    }
}

/// Splits the instruction name, its flags and arguments, and lists the arguments as
/// the instruction's line parser does.
fn node_from_line(line: &str, escape: char, depth: usize) -> Result<RawNode, String> {
    let trimmed = line.trim();
    let (cmd, rest) = ws_split2(trimmed);
    let (args_str, flags) = match rest {
        Some(rest) => extract_builder_flags(&rest, escape),
        None => (String::new(), Vec::new()),
    };
    let rest = args_str.trim().to_string();
    let mut node = RawNode {
        cmd: cmd.clone(),
        flags,
        args: Vec::new(),
        json: false,
        sub: None,
        heredocs: Vec::new(),
        original: trimmed.to_string(),
        line: 0,
    };
    match cmd.to_ascii_lowercase().as_str() {
        "run" | "cmd" | "entrypoint" | "shell" => {
            (node.args, node.json) = parse_maybe_json(&rest)?;
        }
        "add" | "copy" | "volume" => match parse_json(&rest) {
            Ok(args) => (node.args, node.json) = (args, true),
            Err(JsonError::NotStrings) => return Err(NOT_STRINGS.into()),
            Err(JsonError::NotJson) => node.args = split_list(&rest),
        },
        "env" => node.args = parse_name_val(&rest, "ENV", escape)?,
        "label" => node.args = parse_name_val(&rest, "LABEL", escape)?,
        "arg" => node.args = parse_words(&rest, escape),
        "expose" | "from" => node.args = split_list(&rest),
        "maintainer" | "stopsignal" | "user" | "workdir" if !rest.is_empty() => {
            node.args = vec![rest];
        }
        "healthcheck" => {
            let sep = rest.find(char::is_whitespace).unwrap_or(rest.len());
            if sep > 0 {
                let after = rest[sep..].trim_start();
                let (cmd_args, json) = parse_maybe_json(after)?;
                node.args = std::iter::once(rest[..sep].to_string()).chain(cmd_args).collect();
                node.json = json;
            }
        }
        "onbuild" if !rest.is_empty() => {
            let (sub_cmd, _) = ws_split2(&rest);
            if sub_cmd.eq_ignore_ascii_case("onbuild") || depth > 0 {
                return Err("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed".into());
            }
            node.sub = Some(Box::new(node_from_line(&rest, escape, depth + 1)?));
        }
        // Unknown instructions are refused when typed (as in BuildKit's two layers).
        _ => {}
    }
    Ok(node)
}

const NOT_STRINGS: &str = "when using JSON array syntax, arrays must be comprised of strings only";

enum JsonError {
    NotJson,
    NotStrings,
}

/// A JSON array of strings (exec form), as Go's `json.Unmarshal` would accept it.
fn parse_json(rest: &str) -> Result<Vec<String>, JsonError> {
    let rest = rest.trim_start();
    if !rest.starts_with('[') {
        return Err(JsonError::NotJson);
    }
    let value: serde_json::Value = serde_json::from_str(rest).map_err(|_| JsonError::NotJson)?;
    let serde_json::Value::Array(items) = value else { return Err(JsonError::NotJson) };
    items
        .into_iter()
        .map(|v| match v {
            serde_json::Value::String(s) => Ok(s),
            _ => Err(JsonError::NotStrings),
        })
        .collect()
}

/// JSON if it is a JSON array of strings, else the whole text as one argument (shell
/// form); invalid JSON is shell form, as in BuildKit.
fn parse_maybe_json(rest: &str) -> Result<(Vec<String>, bool), String> {
    if rest.is_empty() {
        return Ok((Vec::new(), false));
    }
    match parse_json(rest) {
        Ok(args) => Ok((args, true)),
        Err(JsonError::NotStrings) => Err(NOT_STRINGS.into()),
        Err(JsonError::NotJson) => Ok((vec![rest.to_string()], false)),
    }
}

fn split_list(rest: &str) -> Vec<String> {
    if rest.is_empty() { Vec::new() } else { ws_split(rest) }
}

/// BuildKit's `extractBuilderFlags`: the leading `--flag` words (quotes and escapes
/// removed), up to the first word that does not start with `--` or a lone `--`.
fn extract_builder_flags(line: &str, escape: char) -> (String, Vec<String>) {
    #[derive(PartialEq)]
    enum Phase {
        Spaces,
        Word,
        Quote,
    }
    let mut words = Vec::new();
    let mut phase = Phase::Spaces;
    let mut word = String::new();
    let mut quote = '\0';
    let mut blank_ok = false;
    let chars: Vec<(usize, char)> = line.char_indices().collect();
    let mut k = 0;
    loop {
        let at_end = k >= chars.len();
        let (pos, ch) = if at_end { (line.len(), '\0') } else { chars[k] };
        if phase == Phase::Spaces {
            if at_end {
                break;
            }
            if ch.is_whitespace() {
                k += 1;
                continue;
            }
            let next_dash = chars.get(k + 1).map(|c| c.1) == Some('-');
            if ch != '-' || !next_dash {
                return (line[pos..].to_string(), words);
            }
            phase = Phase::Word;
        }
        if at_end {
            if word != "--" && (blank_ok || !word.is_empty()) {
                words.push(word);
            }
            break;
        }
        if phase == Phase::Word {
            if ch.is_whitespace() {
                phase = Phase::Spaces;
                if word == "--" {
                    return (line[pos..].to_string(), words);
                }
                if blank_ok || !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
                word.clear();
                blank_ok = false;
                k += 1;
                continue;
            }
            if ch == '\'' || ch == '"' {
                quote = ch;
                blank_ok = true;
                phase = Phase::Quote;
                k += 1;
                continue;
            }
            let mut c = ch;
            if ch == escape {
                if k + 1 == chars.len() {
                    k += 1;
                    continue;
                }
                k += 1;
                c = chars[k].1;
            }
            word.push(c);
            k += 1;
            continue;
        }
        // In quotes.
        if ch == quote {
            phase = Phase::Word;
            k += 1;
            continue;
        }
        let mut c = ch;
        if ch == escape {
            if k + 1 == chars.len() {
                phase = Phase::Word;
                k += 1;
                continue;
            }
            k += 1;
            c = chars[k].1;
        }
        word.push(c);
        k += 1;
    }
    (String::new(), words)
}

/// BuildKit's `parseWords`: words split on unquoted whitespace, quotes and escapes
/// kept as written.
fn parse_words(rest: &str, escape: char) -> Vec<String> {
    #[derive(PartialEq)]
    enum Phase {
        Spaces,
        Word,
        Quote,
    }
    let chars: Vec<char> = rest.chars().collect();
    let mut words = Vec::new();
    let mut phase = Phase::Spaces;
    let mut quote = '\0';
    let mut blank_ok = false;
    let mut word = String::new();
    let mut k = 0;
    loop {
        let at_end = k >= chars.len();
        let ch = chars.get(k).copied().unwrap_or('\0');
        if phase == Phase::Spaces {
            if at_end {
                break;
            }
            if ch.is_whitespace() {
                k += 1;
                continue;
            }
            phase = Phase::Word;
        }
        if at_end {
            if blank_ok || !word.is_empty() {
                words.push(word);
            }
            break;
        }
        if phase == Phase::Word {
            if ch.is_whitespace() {
                phase = Phase::Spaces;
                if blank_ok || !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
                blank_ok = false;
                k += 1;
                continue;
            }
            if ch == '\'' || ch == '"' {
                quote = ch;
                blank_ok = true;
                phase = Phase::Quote;
            }
            let mut c = ch;
            if ch == escape {
                if k + 1 == chars.len() {
                    k += 1;
                    continue;
                }
                word.push(ch);
                k += 1;
                c = chars[k];
            }
            word.push(c);
            k += 1;
            continue;
        }
        // In quotes.
        if ch == quote {
            phase = Phase::Word;
        }
        let mut c = ch;
        if ch == escape && quote != '\'' {
            if k + 1 == chars.len() {
                phase = Phase::Word;
                k += 1;
                continue;
            }
            k += 1;
            word.push(ch);
            c = chars[k];
        }
        word.push(c);
        k += 1;
    }
    words
}

/// `ENV`/`LABEL`: `k=v ...` or the legacy `k v`; listed as key, value, separator.
fn parse_name_val(rest: &str, key: &str, escape: char) -> Result<Vec<String>, String> {
    let words = parse_words(rest, escape);
    let Some(first) = words.first() else { return Ok(Vec::new()) };
    if !first.contains('=') {
        let (k, v) = ws_split2(rest);
        let Some(v) = v else { return Err(format!("{key} must have two arguments")) };
        return Ok(vec![k, v, String::new()]);
    }
    let mut out = Vec::new();
    for w in &words {
        let Some((k, v)) = w.split_once('=') else {
            return Err(format!("Syntax error - can't find = in {}. Must be of the form: name=value", go_quote(w)));
        };
        out.extend([k.to_string(), v.to_string(), "=".to_string()]);
    }
    Ok(out)
}

/// The heredocs opened on a line (`<<EOF`, `<<-EOF`, `<<"EOF"`, `3<<EOF`).
fn heredocs_from_line(line: &str) -> Result<Vec<Heredoc>, String> {
    let mut lx = Lexer::new('\\');
    lx.raw_quotes = true;
    lx.raw_escapes = true;
    lx.skip_unset = true;
    let words = lx.process(line, &NoVars).map(|(_, w)| w).unwrap_or_default();
    let mut docs = Vec::new();
    for w in words {
        if let Some(doc) = parse_heredoc(&w)? {
            docs.push(doc);
        }
    }
    Ok(docs)
}

/// A heredoc word: `^(\d*)<<(-?)\s*([^<]*)$`, its delimiter one word once unquoted.
pub(crate) fn parse_heredoc(word: &str) -> Result<Option<Heredoc>, String> {
    let after_fd = word.trim_start_matches(|c: char| c.is_ascii_digit());
    let Some(rest) = after_fd.strip_prefix("<<") else { return Ok(None) };
    let (chomp, rest) = match rest.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, rest),
    };
    let rest = rest.trim_start_matches(is_go_re_space);
    if rest.is_empty() || rest.contains('<') {
        return Ok(None);
    }
    let mut lx = Lexer::new('\\');
    lx.skip_unset = true;
    let words = lx.process(rest, &NoVars).map_err(|e| e.to_string())?.1;
    if words.len() != 1 {
        return Ok(None);
    }
    lx.raw_quotes = true;
    let raw = lx.process(rest, &NoVars).map_err(|e| e.to_string())?.1;
    if raw.len() != words.len() {
        return Err(format!("internal lexing of heredoc produced inconsistent results: {rest}"));
    }
    let quotes = |s: &str| s.chars().filter(|c| *c == '\'' || *c == '"').count();
    let name = words.into_iter().next().unwrap_or_default();
    let expand = quotes(&name) == quotes(&raw[0]);
    Ok(Some(Heredoc { name, content: String::new(), expand, chomp }))
}

/// Go's `%q` for the strings in messages.
pub(crate) fn go_quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{b}' => out.push_str("\\v"),
            '\u{c}' => out.push_str("\\f"),
            c if c.is_control() => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

// ---------------------------------------------------------------------------------
// Typed layer.

/// Flags an instruction accepts.
#[derive(Clone, Copy, PartialEq)]
enum FlagType {
    Bool,
    Str,
    Strs,
}

/// The parsed flags of one instruction.
struct Flags {
    used: Vec<(&'static str, String)>,
}

impl Flags {
    /// BuildKit's `BFlags.Parse`.
    fn parse(args: &[String], defs: &[(&'static str, FlagType)]) -> Result<Flags, String> {
        let mut used: Vec<(&'static str, String)> = Vec::new();
        for a in args {
            if a == "--" {
                break;
            }
            let Some(body) = a.strip_prefix("--") else {
                return Err(format!("arg should start with -- : {a}"));
            };
            let (name, value) = match body.split_once('=') {
                Some((n, v)) => (n, Some(v)),
                None => (body, None),
            };
            let Some(&(def, ty)) = defs.iter().find(|(n, _)| *n == name) else {
                return Err(format!("unknown flag: --{name}"));
            };
            if ty != FlagType::Strs && used.iter().any(|(n, _)| *n == def) {
                return Err(format!("duplicate flag specified: --{name}"));
            }
            let v = match ty {
                FlagType::Bool => match value.map(str::to_ascii_lowercase).as_deref() {
                    Some("") => return Err(format!("missing a value on flag: --{name}")),
                    None | Some("true") => "true".to_string(),
                    Some("false") => "false".to_string(),
                    Some(_) => {
                        return Err(format!(
                            "expecting boolean value for flag --{name}, not: {}",
                            value.unwrap_or_default()
                        ));
                    }
                },
                FlagType::Str | FlagType::Strs => match value {
                    Some(v) => v.to_string(),
                    None => return Err(format!("missing a value on flag: --{name}")),
                },
            };
            used.push((def, v));
        }
        Ok(Flags { used })
    }

    fn string(&self, name: &str) -> Option<String> {
        self.used.iter().rev().find(|(n, _)| *n == name).map(|(_, v)| v.clone())
    }

    fn strings(&self, name: &str) -> Vec<String> {
        self.used.iter().filter(|(n, _)| *n == name).map(|(_, v)| v.clone()).collect()
    }

    fn bool(&self, name: &str) -> bool {
        self.string(name).as_deref() == Some("true")
    }
}

fn exactly_one(node: &RawNode, name: &str) -> Result<String, String> {
    match node.args.as_slice() {
        [one] => Ok(one.clone()),
        _ => Err(format!("{name} requires exactly one argument")),
    }
}

fn no_flags(node: &RawNode) -> Result<(), String> {
    Flags::parse(&node.flags, &[]).map(|_| ())
}

fn command(node: &RawNode) -> Command {
    if node.json {
        Command::Exec(node.args.clone())
    } else if node.args.is_empty() {
        Command::Exec(Vec::new())
    } else {
        Command::Shell(node.args.join(" "))
    }
}

fn parse_from(node: &RawNode, index: usize) -> Result<Stage, String> {
    let flags = Flags::parse(&node.flags, &[("platform", FlagType::Str)])?;
    let name = match node.args.as_slice() {
        [_] => None,
        [_, as_, name] if as_.eq_ignore_ascii_case("as") => {
            let lower = name.to_lowercase();
            let mut chars = lower.chars();
            let valid = chars.next().is_some_and(|c| c.is_ascii_lowercase())
                && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_' | '.'));
            if !valid {
                return Err(format!(
                    "invalid name for build stage: {}, name can't start with a number or contain symbols",
                    go_quote(name)
                ));
            }
            Some(lower)
        }
        _ => return Err("FROM requires either one or three arguments".into()),
    };
    Ok(Stage {
        index,
        name,
        base: node.args[0].clone(),
        platform: flags.string("platform"),
        from: Source { line: node.line, original: node.original.clone() },
        instructions: Vec::new(),
    })
}

/// Types one non-`FROM` node.
fn typed(node: &RawNode) -> Result<Instruction, String> {
    let source = Source { line: node.line, original: node.original.clone() };
    let kind = typed_kind(node)?;
    Ok(Instruction { source, kind })
}

fn key_values(node: &RawNode, name: &str) -> Result<Vec<KeyValue>, String> {
    no_flags(node)?;
    if node.args.is_empty() {
        return Err(format!("{name} requires at least one argument"));
    }
    if !node.args.len().is_multiple_of(3) {
        return Err(format!("Bad input to {name}, too many arguments"));
    }
    node.args
        .chunks(3)
        .map(|c| {
            if c[0].is_empty() {
                Err(format!("{name} names can not be blank"))
            } else {
                Ok(KeyValue { key: c[0].clone(), value: c[1].clone() })
            }
        })
        .collect()
}

fn typed_kind(node: &RawNode) -> Result<Kind, String> {
    let lower = node.cmd.to_ascii_lowercase();
    Ok(match lower.as_str() {
        "run" => Kind::Run(parse_run(node)?),
        "copy" | "add" => {
            let copy = parse_copy(node, lower == "add")?;
            if lower == "add" { Kind::Add(copy) } else { Kind::Copy(copy) }
        }
        "env" => Kind::Env(key_values(node, "ENV")?),
        "label" => Kind::Label(key_values(node, "LABEL")?),
        "arg" => {
            no_flags(node)?;
            if node.args.is_empty() {
                return Err("ARG requires at least one argument".into());
            }
            let mut args = Vec::new();
            for a in &node.args {
                let (name, default) = match a.split_once('=') {
                    Some((k, v)) => (k.to_string(), Some(v.to_string())),
                    None => (a.clone(), None),
                };
                if name.is_empty() {
                    return Err("ARG names can not be blank".into());
                }
                args.push(ArgDecl { name, default });
            }
            Kind::Arg(args)
        }
        "workdir" => {
            let one = exactly_one(node, "WORKDIR")?;
            no_flags(node)?;
            Kind::Workdir(one)
        }
        "user" => {
            let one = exactly_one(node, "USER")?;
            no_flags(node)?;
            Kind::User(one)
        }
        "stopsignal" => {
            let one = exactly_one(node, "STOPSIGNAL")?;
            no_flags(node)?;
            Kind::StopSignal(one)
        }
        "maintainer" => {
            let one = exactly_one(node, "MAINTAINER")?;
            no_flags(node)?;
            Kind::Maintainer(one)
        }
        "expose" => {
            if node.args.is_empty() {
                return Err("EXPOSE requires at least one argument".into());
            }
            no_flags(node)?;
            Kind::Expose(node.args.clone())
        }
        "volume" => {
            if node.args.is_empty() {
                return Err("VOLUME requires at least one argument".into());
            }
            no_flags(node)?;
            let mut volumes = Vec::new();
            for v in &node.args {
                let v = v.trim();
                if v.is_empty() {
                    return Err("VOLUME specified can not be an empty string".into());
                }
                volumes.push(v.to_string());
            }
            Kind::Volume(volumes)
        }
        "cmd" => {
            no_flags(node)?;
            Kind::Cmd(command(node))
        }
        "entrypoint" => {
            no_flags(node)?;
            Kind::Entrypoint(command(node))
        }
        "shell" => {
            no_flags(node)?;
            if node.args.is_empty() {
                return Err("SHELL requires at least one argument".into());
            }
            if !node.json {
                return Err("SHELL requires the arguments to be in JSON form".into());
            }
            Kind::Shell(node.args.clone())
        }
        "healthcheck" => Kind::Healthcheck(parse_healthcheck(node)?),
        "onbuild" => {
            let Some(sub) = &node.sub else {
                return Err("ONBUILD requires at least one argument".into());
            };
            no_flags(node)?;
            let trigger = sub.cmd.to_ascii_uppercase();
            match trigger.as_str() {
                "ONBUILD" => {
                    return Err("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed".into());
                }
                "MAINTAINER" | "FROM" => {
                    return Err(format!("{trigger} isn't allowed as an ONBUILD trigger"));
                }
                _ => {}
            }
            let mut inner = (**sub).clone();
            inner.line = node.line;
            inner.heredocs = node.heredocs.clone();
            Kind::Onbuild(Box::new(typed(&inner)?))
        }
        _ => return Err(format!("unknown instruction: {}", node.cmd)),
    })
}

fn parse_run(node: &RawNode) -> Result<Run, String> {
    let flags = Flags::parse(
        &node.flags,
        &[("mount", FlagType::Strs), ("network", FlagType::Str), ("security", FlagType::Str)],
    )?;
    let network = flags.string("network");
    if let Some(n) = network.as_ref().filter(|n| !matches!(n.as_str(), "default" | "none" | "host")) {
        return Err(format!("invalid network mode {}", go_quote(n)));
    }
    let security = flags.string("security");
    if let Some(s) = security.as_ref().filter(|s| !matches!(s.as_str(), "sandbox" | "insecure")) {
        return Err(format!("security {} is not valid", go_quote(s)));
    }
    let mounts = flags.strings("mount").iter().map(|m| parse_mount(m)).collect::<Result<_, _>>()?;
    if node.args.is_empty() {
        return Err("RUN requires at least one argument".into());
    }
    Ok(Run { command: command(node), mounts, network, security, heredocs: node.heredocs.clone() })
}

/// Go's `strconv.ParseBool`.
fn go_bool(v: &str) -> Option<bool> {
    match v {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// Comma-separated fields, `"`-quoted fields allowed (`""` is a quote), as Go's CSV.
fn csv_fields(s: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let chars: Vec<char> = s.chars().collect();
    let mut i = 0;
    loop {
        let mut field = String::new();
        if chars.get(i) == Some(&'"') {
            i += 1;
            loop {
                match chars.get(i) {
                    None => return Err("extraneous or missing \" in quoted-field".into()),
                    Some('"') if chars.get(i + 1) == Some(&'"') => {
                        field.push('"');
                        i += 2;
                    }
                    Some('"') => {
                        i += 1;
                        break;
                    }
                    Some(c) => {
                        field.push(*c);
                        i += 1;
                    }
                }
            }
            match chars.get(i) {
                None | Some(',') => {}
                Some(_) => return Err("extraneous or missing \" in quoted-field".into()),
            }
        } else {
            while let Some(&c) = chars.get(i) {
                if c == ',' {
                    break;
                }
                if c == '"' {
                    return Err("bare \" in non-quoted-field".into());
                }
                field.push(c);
                i += 1;
            }
        }
        out.push(field);
        if chars.get(i) == Some(&',') {
            i += 1;
        } else {
            return Ok(out);
        }
    }
}

/// `RUN --mount=...`, with BuildKit's keys, aliases and checks.
fn parse_mount(value: &str) -> Result<RunMount, String> {
    let fields = csv_fields(value).map_err(|e| format!("failed to parse csv mounts: {e}"))?;
    let mut m = RunMount {
        kind: MountKind::Bind,
        target: String::new(),
        source: None,
        from: None,
        id: None,
        readonly: None,
        sharing: None,
        mode: None,
        uid: None,
        gid: None,
        size: None,
        required: None,
    };
    let bad = |key: &str, value: &str| format!("invalid value for {key}: {value}");
    for field in fields {
        let (key, value) = match field.split_once('=') {
            Some((k, v)) => (k.to_ascii_lowercase(), Some(v.to_string())),
            None => (field.to_ascii_lowercase(), None),
        };
        let Some(value) = value else {
            match key.as_str() {
                "readonly" | "ro" => m.readonly = Some(true),
                "readwrite" | "rw" => m.readonly = Some(false),
                "required" if matches!(m.kind, MountKind::Secret | MountKind::Ssh) => m.required = Some(true),
                "required" => {
                    return Err(format!("unexpected key '{key}' for mount type '{}'", kind_name(m.kind)));
                }
                _ => return Err(format!("invalid field '{field}' must be a key=value pair")),
            }
            continue;
        };
        if key == "from" && value.find('$').is_some_and(|i| i != value.len() - 1) {
            return Err("'from' doesn't support variable expansion, define alias stage instead".into());
        }
        match key.as_str() {
            "type" => {
                m.kind = match value.to_ascii_lowercase().as_str() {
                    "bind" => MountKind::Bind,
                    "cache" => MountKind::Cache,
                    "tmpfs" => MountKind::Tmpfs,
                    "secret" => MountKind::Secret,
                    "ssh" => MountKind::Ssh,
                    _ => return Err(format!("unsupported mount type {}", go_quote(&value))),
                }
            }
            "from" => m.from = Some(value),
            "source" | "src" => m.source = Some(value),
            "target" | "dst" | "destination" => m.target = value,
            "readonly" | "ro" => {
                m.readonly = Some(go_bool(&value).ok_or_else(|| bad(&key, &value))?);
            }
            "readwrite" | "rw" => {
                m.readonly = Some(!go_bool(&value).ok_or_else(|| bad(&key, &value))?);
            }
            "required" => {
                if !matches!(m.kind, MountKind::Secret | MountKind::Ssh) {
                    return Err(format!("unexpected key '{key}' for mount type '{}'", kind_name(m.kind)));
                }
                m.required = Some(go_bool(&value).ok_or_else(|| bad(&key, &value))?);
            }
            "size" => {
                if m.kind != MountKind::Tmpfs {
                    return Err(format!("unexpected key '{key}' for mount type '{}'", kind_name(m.kind)));
                }
                if ram_in_bytes(&value).is_none() {
                    return Err(bad(&key, &value));
                }
                m.size = Some(value);
            }
            "id" => m.id = Some(value),
            "sharing" => {
                let v = value.to_ascii_lowercase();
                if !matches!(v.as_str(), "shared" | "private" | "locked") {
                    return Err(format!("unsupported sharing value {}", go_quote(&value)));
                }
                m.sharing = Some(v);
            }
            "mode" => {
                if u32::from_str_radix(&value, 8).is_err() {
                    return Err(format!("invalid value {value} for mode"));
                }
                m.mode = Some(value);
            }
            "uid" => {
                m.uid = Some(value.parse().map_err(|_| format!("invalid value {value} for uid"))?);
            }
            "gid" => {
                m.gid = Some(value.parse().map_err(|_| format!("invalid value {value} for gid"))?);
            }
            // The variable a secret is also exposed as: lindocker has no secrets to
            // give, so the builder refuses secret mounts whatever their keys.
            "env" => {}
            _ => return Err(format!("unexpected key '{key}' in '{field}'")),
        }
    }
    let file_info = matches!(m.kind, MountKind::Secret | MountKind::Ssh | MountKind::Cache);
    if !file_info {
        for (set, what) in [(m.mode.is_some(), "mode"), (m.uid.is_some(), "uid"), (m.gid.is_some(), "gid")] {
            if set {
                return Err(format!("{what} not allowed for {} type mounts", go_quote(kind_name(m.kind))));
            }
        }
    }
    if m.kind == MountKind::Secret {
        if m.from.is_some() {
            return Err("secret mount should not have a from".into());
        }
        if m.sharing.is_some() {
            return Err("secret mount should not define sharing".into());
        }
        if m.source.is_none() && m.target.is_empty() && m.id.is_none() {
            return Err("invalid secret mount. one of source, target required".into());
        }
        if m.source.is_some() && m.id.is_some() {
            return Err("both source and id can't be set".into());
        }
    }
    if m.sharing.is_some() && m.kind != MountKind::Cache {
        return Err(format!("invalid cache sharing set for {} mount", kind_name(m.kind)));
    }
    if matches!(m.kind, MountKind::Bind | MountKind::Cache | MountKind::Tmpfs) && m.target.is_empty() {
        return Err(format!("mount type {} requires a target", kind_name(m.kind)));
    }
    Ok(m)
}

fn kind_name(k: MountKind) -> &'static str {
    match k {
        MountKind::Bind => "bind",
        MountKind::Cache => "cache",
        MountKind::Tmpfs => "tmpfs",
        MountKind::Secret => "secret",
        MountKind::Ssh => "ssh",
    }
}

/// go-units `RAMInBytes` (`RUN --mount=type=tmpfs,size=`): a number with an optional
/// binary unit (`64m`, `1GiB`, `512`), in bytes.
pub fn ram_in_bytes(s: &str) -> Option<u64> {
    let s = s.trim();
    let num_end = s.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(s.len());
    let (num, unit) = s.split_at(num_end);
    let n: f64 = num.parse().ok()?;
    let unit = unit.trim().to_ascii_lowercase();
    let unit = unit.trim_end_matches('b');
    let unit = unit.strip_suffix('i').unwrap_or(unit);
    let mul: f64 = match unit {
        "" => 1.0,
        "k" => 1024.0,
        "m" => 1024.0 * 1024.0,
        "g" => 1024.0 * 1024.0 * 1024.0,
        "t" => 1024f64.powi(4),
        "p" => 1024f64.powi(5),
        _ => return None,
    };
    let v = n * mul;
    (v.is_finite() && v < u64::MAX as f64).then_some(v as u64)
}

fn parse_copy(node: &RawNode, add: bool) -> Result<Copy, String> {
    let name = if add { "ADD" } else { "COPY" };
    if node.args.len() < 2 {
        return Err(format!(
            "{name} requires at least two arguments, but only one was provided. Destination could not be determined"
        ));
    }
    let defs: &[(&str, FlagType)] = if add {
        &[
            ("chown", FlagType::Str),
            ("chmod", FlagType::Str),
            ("link", FlagType::Bool),
            ("keep-git-dir", FlagType::Bool),
            ("checksum", FlagType::Str),
            ("exclude", FlagType::Strs),
        ]
    } else {
        &[
            ("chown", FlagType::Str),
            ("from", FlagType::Str),
            ("chmod", FlagType::Str),
            ("link", FlagType::Bool),
            ("exclude", FlagType::Strs),
            ("parents", FlagType::Bool),
        ]
    };
    let flags = Flags::parse(&node.flags, defs)?;
    let (dest, sources) = node.args.split_last().expect("two arguments checked");
    if !node.json && parse_heredoc(dest).ok().flatten().is_some() {
        return Err(format!("{name} cannot accept a heredoc as a destination"));
    }
    let mut heredocs = Vec::new();
    if !node.json {
        for src in sources {
            if let Some(doc) = parse_heredoc(src).ok().flatten() {
                // The last body of that name, as BuildKit's lookup map keeps it.
                let found = node.heredocs.iter().rev().find(|h| h.name == doc.name).cloned();
                heredocs.push(found.unwrap_or(Heredoc { content: String::new(), ..doc }));
            }
        }
    }
    Ok(Copy {
        sources: sources.to_vec(),
        dest: dest.clone(),
        from: flags.string("from"),
        chown: flags.string("chown"),
        chmod: flags.string("chmod"),
        link: flags.bool("link"),
        parents: flags.bool("parents"),
        exclude: flags.strings("exclude"),
        checksum: flags.string("checksum"),
        keep_git_dir: flags.bool("keep-git-dir"),
        heredocs,
    })
}

fn parse_healthcheck(node: &RawNode) -> Result<Healthcheck, String> {
    let Some(typ) = node.args.first() else {
        return Err("HEALTHCHECK requires at least one argument".into());
    };
    let typ = typ.to_ascii_uppercase();
    let args = &node.args[1..];
    if typ == "NONE" {
        if !args.is_empty() {
            return Err("HEALTHCHECK NONE takes no arguments".into());
        }
        return Ok(Healthcheck::None);
    }
    let flags = Flags::parse(
        &node.flags,
        &[
            ("interval", FlagType::Str),
            ("timeout", FlagType::Str),
            ("start-period", FlagType::Str),
            ("start-interval", FlagType::Str),
            ("retries", FlagType::Str),
        ],
    )?;
    if typ != "CMD" {
        return Err(format!("Unknown type {} in HEALTHCHECK (try CMD)", go_quote(&typ)));
    }
    if args.is_empty() {
        return Err("Missing command after HEALTHCHECK CMD".into());
    }
    let command = if node.json { Command::Exec(args.to_vec()) } else { Command::Shell(args.join(" ")) };
    let interval = |name: &str| -> Result<Option<String>, String> {
        let Some(v) = flags.string(name).filter(|v| !v.is_empty()) else { return Ok(None) };
        let nanos = go_duration(&v).map_err(|e| format!("time: {e}"))?;
        if nanos != 0 && nanos < 1_000_000 {
            return Err(format!("Interval {} cannot be less than 1ms", go_quote(name)));
        }
        Ok(Some(v))
    };
    let retries = match flags.string("retries").filter(|v| !v.is_empty()) {
        None => None,
        Some(v) => {
            let n: i64 = v
                .parse()
                .ok()
                .filter(|n| i32::try_from(*n).is_ok())
                .ok_or_else(|| format!("strconv.ParseInt: parsing {}: invalid syntax", go_quote(&v)))?;
            if n < 0 {
                return Err(format!("--retries cannot be negative ({n})"));
            }
            Some(n as u32)
        }
    };
    Ok(Healthcheck::Check {
        command,
        interval: interval("interval")?,
        timeout: interval("timeout")?,
        start_period: interval("start-period")?,
        start_interval: interval("start-interval")?,
        retries,
    })
}

/// Go's `time.ParseDuration`, in nanoseconds (`1h30m`, `1.5s`, `300ms`, `-2s`, `0`).
pub fn go_duration(s: &str) -> Result<i128, String> {
    let orig = s;
    let invalid = || format!("invalid duration {}", go_quote(orig));
    let (neg, mut s) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if s == "0" {
        return Ok(0);
    }
    if s.is_empty() {
        return Err(invalid());
    }
    let mut total: f64 = 0.0;
    while !s.is_empty() {
        let n_end = s.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(s.len());
        let num = &s[..n_end];
        if num.is_empty() || num == "." || num.matches('.').count() > 1 {
            return Err(invalid());
        }
        let n: f64 = num.parse().map_err(|_| invalid())?;
        s = &s[n_end..];
        let u_end = s.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(s.len());
        let unit = match &s[..u_end] {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            "" => return Err(format!("missing unit in duration {}", go_quote(orig))),
            u => return Err(format!("unknown unit {} in duration {}", go_quote(u), go_quote(orig))),
        };
        s = &s[u_end..];
        total += n * unit;
    }
    if total > i64::MAX as f64 {
        return Err(invalid());
    }
    let v = total as i128;
    Ok(if neg { -v } else { v })
}

#[cfg(test)]
#[path = "parse_tests.rs"]
mod tests;
