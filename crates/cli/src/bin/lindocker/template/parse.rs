//! Go's text/template parser: actions, control structures, pipelines and operands, with
//! Go's parse-time checks (defined functions and variables) and error messages.

use std::collections::BTreeMap;
use std::fmt;

use super::Error;
use super::lex::{Tok, Token, line_of};

/// A list of nodes.
pub type List = Vec<Node>;

/// A node of the tree.
#[derive(Debug, Clone)]
pub enum Node {
    Text(String),
    Action(Pipe),
    If { pipe: Pipe, body: List, other: List },
    Range { pipe: Pipe, body: List, other: List },
    With { pipe: Pipe, body: List, other: List },
    Template { pos: usize, name: String, pipe: Option<Pipe> },
    Break,
    Continue,
}

/// A pipeline: optional variable declarations, then commands joined by `|`.
#[derive(Debug, Clone)]
pub struct Pipe {
    pub pos: usize,
    pub decl: Vec<String>,
    pub assign: bool,
    pub cmds: Vec<Cmd>,
}

/// A command: a function or value and its arguments.
#[derive(Debug, Clone)]
pub struct Cmd {
    pub pos: usize,
    pub args: Vec<Arg>,
}

/// A literal number: Go's ideal constants.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Number {
    Int(i64),
    Float(f64),
}

/// An operand.
#[derive(Debug, Clone)]
pub enum Arg {
    Dot(usize),
    Nil(usize),
    Bool(usize, bool),
    Num(usize, Number, String),
    Str(usize, String, String),
    /// `.A.B`.
    Field(usize, Vec<String>),
    /// `$x.A`.
    Var(usize, String, Vec<String>),
    /// A function name.
    Ident(usize, String),
    /// `(pipeline).A.B`.
    Chain(usize, Box<Arg>, Vec<String>),
    /// `(pipeline)`.
    Pipe(usize, Box<Pipe>),
}

impl Arg {
    /// Where the operand starts.
    pub fn pos(&self) -> usize {
        match self {
            Arg::Dot(p)
            | Arg::Nil(p)
            | Arg::Bool(p, _)
            | Arg::Num(p, ..)
            | Arg::Str(p, ..)
            | Arg::Field(p, _)
            | Arg::Var(p, ..)
            | Arg::Ident(p, _)
            | Arg::Chain(p, ..)
            | Arg::Pipe(p, _) => *p,
        }
    }
}

impl fmt::Display for Arg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Arg::Dot(_) => f.write_str("."),
            Arg::Nil(_) => f.write_str("nil"),
            Arg::Bool(_, b) => write!(f, "{b}"),
            Arg::Num(_, _, text) | Arg::Str(_, _, text) => f.write_str(text),
            Arg::Field(_, names) => names.iter().try_for_each(|n| write!(f, ".{n}")),
            Arg::Var(_, name, names) => {
                f.write_str(name)?;
                names.iter().try_for_each(|n| write!(f, ".{n}"))
            }
            Arg::Ident(_, name) => f.write_str(name),
            Arg::Chain(_, node, names) => {
                match node.as_ref() {
                    Arg::Pipe(_, p) => write!(f, "({p})")?,
                    other => write!(f, "{other}")?,
                }
                names.iter().try_for_each(|n| write!(f, ".{n}"))
            }
            Arg::Pipe(_, p) => write!(f, "({p})"),
        }
    }
}

impl fmt::Display for Cmd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, a) in self.args.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            write!(f, "{a}")?;
        }
        Ok(())
    }
}

impl fmt::Display for Pipe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.decl.is_empty() {
            write!(f, "{} {} ", self.decl.join(", "), if self.assign { "=" } else { ":=" })?;
        }
        for (i, c) in self.cmds.iter().enumerate() {
            if i > 0 {
                f.write_str(" | ")?;
            }
            write!(f, "{c}")?;
        }
        Ok(())
    }
}

/// A parsed template: the main list and the `define`d ones.
#[derive(Debug, Clone)]
pub struct Tree {
    pub root: List,
    pub defines: BTreeMap<String, List>,
}

/// How a list ended.
enum Stop {
    End,
    /// `{{else}}`, or `{{else if ...}}` / `{{else with ...}}` (the keyword, not consumed).
    Else(Option<&'static str>),
    Eof,
}

struct Parser<'a> {
    text: &'a str,
    tokens: Vec<Token>,
    at: usize,
    vars: Vec<String>,
    range_depth: usize,
    defines: BTreeMap<String, List>,
    functions: &'a [&'a str],
    /// Nesting of control structures and parentheses (bounded: the parser recurses).
    depth: usize,
}

/// How deep control structures and parentheses may nest.
const MAX_DEPTH: usize = 100;

/// Parses `text`; `functions` are the names a template may call.
pub fn parse(text: &str, functions: &[&str]) -> Result<Tree, Error> {
    let tokens = super::lex::lex(text)?;
    let mut p = Parser {
        text,
        tokens,
        at: 0,
        vars: vec!["$".into()],
        range_depth: 0,
        defines: BTreeMap::new(),
        functions,
        depth: 0,
    };
    let (root, stop) = p.list(true)?;
    match stop {
        Stop::Eof => Ok(Tree { root, defines: p.defines }),
        Stop::End => Err(p.error_at(p.prev_pos(), "unexpected {{end}}")),
        Stop::Else(_) => Err(p.error_at(p.prev_pos(), "unexpected {{else}}")),
    }
}

fn describe(t: &Tok) -> String {
    match t {
        Tok::Eof => "EOF".into(),
        Tok::Left => "\"{{\"".into(),
        Tok::Right => "\"}}\"".into(),
        Tok::Space => "space".into(),
        Tok::Keyword(k) => format!("<{k}>"),
        Tok::Field(f) => format!("<.{f}>"),
        Tok::Dot => "<.>".into(),
        Tok::Variable(v) => format!("{v:?}"),
        Tok::Declare => "\":=\"".into(),
        Tok::Assign => "\"=\"".into(),
        Tok::Pipe => "\"|\"".into(),
        Tok::LeftParen => "\"(\"".into(),
        Tok::RightParen => "\")\"".into(),
        Tok::Comma => "\",\"".into(),
        Tok::Str(_, text) | Tok::Number(text) | Tok::Char(_, text) => format!("{text:?}"),
        Tok::Bool(b) => format!("\"{b}\""),
        Tok::Nil => "\"nil\"".into(),
        Tok::Ident(i) => format!("{i:?}"),
        Tok::Text(t) => format!("{t:?}"),
    }
}

impl Parser<'_> {
    fn error_at(&self, pos: usize, msg: impl Into<String>) -> Error {
        Error::Parse { line: line_of(self.text, pos), msg: msg.into() }
    }

    fn prev_pos(&self) -> usize {
        self.tokens[self.at.saturating_sub(1)].pos
    }

    fn next(&mut self) -> Token {
        let t = self.tokens[self.at.min(self.tokens.len() - 1)].clone();
        if self.at < self.tokens.len() - 1 {
            self.at += 1;
        }
        t
    }

    fn peek(&self) -> &Token {
        &self.tokens[self.at.min(self.tokens.len() - 1)]
    }

    fn skip_space(&mut self) {
        while self.peek().kind == Tok::Space {
            self.at += 1;
        }
    }

    fn next_non_space(&mut self) -> Token {
        self.skip_space();
        self.next()
    }

    fn peek_non_space(&mut self) -> Token {
        self.skip_space();
        self.peek().clone()
    }

    fn unexpected(&self, t: &Token, context: &str) -> Error {
        self.error_at(t.pos, format!("unexpected {} in {context}", describe(&t.kind)))
    }

    /// Nodes up to `{{end}}`, `{{else}}` or the end of the text.
    fn list(&mut self, top: bool) -> Result<(List, Stop), Error> {
        let mut list = Vec::new();
        loop {
            let t = self.next();
            match t.kind {
                Tok::Eof => {
                    if !top {
                        return Err(self.error_at(t.pos, "unexpected EOF"));
                    }
                    return Ok((list, Stop::Eof));
                }
                Tok::Text(s) => list.push(Node::Text(s)),
                Tok::Left => {
                    let k = self.peek_non_space();
                    match k.kind {
                        Tok::Keyword("end") => {
                            self.next();
                            self.expect_right("end")?;
                            return Ok((list, Stop::End));
                        }
                        Tok::Keyword("else") => {
                            self.next();
                            let after = self.peek_non_space();
                            if let Tok::Keyword(k @ ("if" | "with")) = after.kind {
                                return Ok((list, Stop::Else(Some(k))));
                            }
                            self.expect_right("else")?;
                            return Ok((list, Stop::Else(None)));
                        }
                        Tok::Keyword("define") if top => {
                            self.next();
                            self.define(t.pos)?;
                        }
                        _ => list.push(self.action()?),
                    }
                }
                other => return Err(self.error_at(t.pos, format!("unexpected {}", describe(&other)))),
            }
        }
    }

    fn expect_right(&mut self, context: &str) -> Result<(), Error> {
        let t = self.next_non_space();
        if t.kind != Tok::Right {
            return Err(self.unexpected(&t, &format!("{{{{{context}}}}}")));
        }
        Ok(())
    }

    fn template_name(&mut self, context: &str) -> Result<String, Error> {
        let t = self.next_non_space();
        match t.kind {
            Tok::Str(s, _) => Ok(s),
            _ => Err(self.unexpected(&t, context)),
        }
    }

    fn define(&mut self, pos: usize) -> Result<(), Error> {
        let name = self.template_name("define clause")?;
        self.expect_right("define")?;
        let saved = std::mem::replace(&mut self.vars, vec!["$".into()]);
        let (body, stop) = self.list(false)?;
        self.vars = saved;
        if !matches!(stop, Stop::End) {
            return Err(self.error_at(pos, "unexpected {{else}} in define"));
        }
        self.defines.insert(name, body);
        Ok(())
    }

    /// After `{{`: a control structure or a pipeline to print.
    fn action(&mut self) -> Result<Node, Error> {
        let t = self.peek_non_space();
        if let Tok::Keyword(k) = t.kind {
            self.next();
            return match k {
                "if" | "range" | "with" => self.control(k),
                "break" | "continue" => {
                    if self.range_depth == 0 {
                        return Err(self.error_at(t.pos, format!("{{{{{k}}}}} outside {{{{range}}}}")));
                    }
                    self.expect_right(k)?;
                    Ok(if k == "break" { Node::Break } else { Node::Continue })
                }
                "template" => {
                    let name = self.template_name("template clause")?;
                    let pipe = if self.peek_non_space().kind == Tok::Right {
                        self.next();
                        None
                    } else {
                        Some(self.pipeline("template clause", true)?)
                    };
                    Ok(Node::Template { pos: t.pos, name, pipe })
                }
                "block" => {
                    let name = self.template_name("block clause")?;
                    let pipe = self.pipeline("block clause", true)?;
                    let saved = std::mem::replace(&mut self.vars, vec!["$".into()]);
                    let (body, stop) = self.list(false)?;
                    self.vars = saved;
                    if !matches!(stop, Stop::End) {
                        return Err(self.error_at(t.pos, "unexpected {{else}} in block clause"));
                    }
                    self.defines.insert(name.clone(), body);
                    Ok(Node::Template { pos: t.pos, name, pipe: Some(pipe) })
                }
                other => Err(self.unexpected(&t, other)),
            };
        }
        Ok(Node::Action(self.pipeline("command", true)?))
    }

    fn control(&mut self, context: &'static str) -> Result<Node, Error> {
        self.deeper()?;
        let node = self.control_inner(context);
        self.depth -= 1;
        node
    }

    fn deeper(&mut self) -> Result<(), Error> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.error_at(self.peek().pos, "max expression depth exceeded"));
        }
        Ok(())
    }

    fn control_inner(&mut self, context: &'static str) -> Result<Node, Error> {
        let vars = self.vars.len();
        let pipe = self.pipeline(context, true)?;
        if context == "range" {
            self.range_depth += 1;
        }
        let (body, mut stop) = self.list(false)?;
        if context == "range" {
            self.range_depth -= 1;
        }
        let mut other = Vec::new();
        if let Stop::Else(chain) = stop {
            match chain {
                Some(k) if k == context && context != "range" => {
                    self.next_non_space();
                    other.push(self.control(k)?);
                    stop = Stop::End;
                }
                Some(k) => return Err(self.error_at(self.peek().pos, format!("unexpected <{k}> in {{{{else}}}}"))),
                None => {
                    let (list, s) = self.list(false)?;
                    other = list;
                    stop = s;
                    if !matches!(stop, Stop::End) {
                        return Err(self.error_at(self.prev_pos(), "expected end; found {{else}}"));
                    }
                }
            }
        }
        debug_assert!(matches!(stop, Stop::End));
        self.vars.truncate(vars);
        Ok(match context {
            "if" => Node::If { pipe, body, other },
            "range" => Node::Range { pipe, body, other },
            _ => Node::With { pipe, body, other },
        })
    }

    /// A pipeline up to `}}` (`delim`) or `)`.
    fn pipeline(&mut self, context: &str, delim: bool) -> Result<Pipe, Error> {
        let start = self.peek_non_space().pos;
        let mut pipe = Pipe { pos: start, decl: Vec::new(), assign: false, cmds: Vec::new() };
        // Declarations: `$x :=`, `$x =`, `$i, $v :=` (range only).
        loop {
            let save = self.at;
            let v = self.peek_non_space();
            let Tok::Variable(name) = v.kind else { break };
            self.next();
            let after = self.peek_non_space();
            match after.kind {
                Tok::Declare | Tok::Assign => {
                    self.next();
                    pipe.assign = after.kind == Tok::Assign;
                    if pipe.assign && !self.vars.contains(&name) {
                        return Err(self.error_at(v.pos, format!("undefined variable {name:?}")));
                    }
                    pipe.decl.push(name.clone());
                    self.vars.push(name);
                    break;
                }
                Tok::Comma => {
                    self.next();
                    pipe.decl.push(name.clone());
                    self.vars.push(name);
                    if context == "range" && pipe.decl.len() < 2 {
                        match self.peek_non_space().kind {
                            Tok::Variable(_) => continue,
                            _ => return Err(self.error_at(after.pos, "range can only initialize variables")),
                        }
                    }
                    return Err(self.error_at(after.pos, format!("too many declarations in {context}")));
                }
                _ if !pipe.decl.is_empty() => {
                    return Err(self.error_at(after.pos, "range can only initialize variables"));
                }
                _ => {
                    self.at = save;
                    break;
                }
            }
        }
        loop {
            let t = self.peek_non_space();
            match t.kind {
                Tok::Right if delim => {
                    self.next();
                    break;
                }
                Tok::RightParen if !delim => {
                    self.next();
                    break;
                }
                Tok::Bool(_)
                | Tok::Char(..)
                | Tok::Dot
                | Tok::Field(_)
                | Tok::Ident(_)
                | Tok::Number(_)
                | Tok::Nil
                | Tok::Str(..)
                | Tok::Variable(_)
                | Tok::LeftParen => pipe.cmds.push(self.command()?),
                _ => return Err(self.unexpected(&t, context)),
            }
        }
        if pipe.cmds.is_empty() {
            return Err(self.error_at(start, format!("missing value for {context}")));
        }
        for (i, c) in pipe.cmds.iter().enumerate().skip(1) {
            if matches!(c.args[0], Arg::Bool(..) | Arg::Dot(_) | Arg::Nil(_) | Arg::Num(..) | Arg::Str(..)) {
                return Err(self.error_at(c.pos, format!("non executable command in pipeline stage {}", i + 1)));
            }
        }
        Ok(pipe)
    }

    fn command(&mut self) -> Result<Cmd, Error> {
        let mut cmd = Cmd { pos: self.peek_non_space().pos, args: Vec::new() };
        loop {
            self.skip_space();
            if let Some(arg) = self.operand()? {
                cmd.args.push(arg);
            }
            let t = self.peek().clone();
            match t.kind {
                Tok::Space => continue,
                Tok::Right | Tok::RightParen => {}
                Tok::Pipe => {
                    self.next();
                }
                _ => return Err(self.unexpected(&t, "operand")),
            }
            break;
        }
        if cmd.args.is_empty() {
            return Err(self.error_at(cmd.pos, "empty command"));
        }
        Ok(cmd)
    }

    fn operand(&mut self) -> Result<Option<Arg>, Error> {
        let Some(node) = self.term()? else { return Ok(None) };
        let Tok::Field(_) = self.peek().kind else { return Ok(Some(node)) };
        let chain_pos = self.peek().pos;
        let mut fields = Vec::new();
        while let Tok::Field(f) = &self.peek().kind {
            fields.push(f.clone());
            self.next();
        }
        Ok(Some(match node {
            Arg::Field(_, mut names) => {
                names.extend(fields);
                Arg::Field(chain_pos, names)
            }
            Arg::Var(_, name, mut names) => {
                names.extend(fields);
                Arg::Var(chain_pos, name, names)
            }
            Arg::Bool(..) | Arg::Str(..) | Arg::Num(..) | Arg::Nil(_) | Arg::Dot(_) => {
                return Err(self.error_at(chain_pos, format!("unexpected . after term {:?}", node.to_string())));
            }
            other => Arg::Chain(chain_pos, Box::new(other), fields),
        }))
    }

    fn term(&mut self) -> Result<Option<Arg>, Error> {
        let t = self.peek_non_space();
        let arg = match t.kind {
            Tok::Ident(name) => {
                if !self.functions.contains(&name.as_str()) {
                    return Err(self.error_at(t.pos, format!("function {name:?} not defined")));
                }
                Arg::Ident(t.pos, name)
            }
            Tok::Dot => Arg::Dot(t.pos),
            Tok::Nil => Arg::Nil(t.pos),
            Tok::Variable(name) => {
                if !self.vars.contains(&name) {
                    return Err(self.error_at(t.pos, format!("undefined variable {name:?}")));
                }
                Arg::Var(t.pos, name, Vec::new())
            }
            Tok::Field(f) => Arg::Field(t.pos, vec![f]),
            Tok::Bool(b) => Arg::Bool(t.pos, b),
            Tok::Char(c, text) => Arg::Num(t.pos, Number::Int(c as i64), text),
            Tok::Number(text) => Arg::Num(
                t.pos,
                number(&text).ok_or_else(|| self.error_at(t.pos, format!("bad number syntax: {text:?}")))?,
                text,
            ),
            Tok::Str(s, text) => Arg::Str(t.pos, s, text),
            Tok::LeftParen => {
                self.next();
                self.deeper()?;
                let p = self.pipeline("parenthesized pipeline", false);
                self.depth -= 1;
                return Ok(Some(Arg::Pipe(t.pos, Box::new(p?))));
            }
            _ => return Ok(None),
        };
        self.next();
        Ok(Some(arg))
    }
}

/// Go's number literals: decimal, hex, octal, binary (with `_`), floats.
fn number(text: &str) -> Option<Number> {
    let clean = text.replace('_', "");
    let (neg, digits) = match clean.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, clean.strip_prefix('+').unwrap_or(&clean)),
    };
    let int = if let Some(h) = digits.strip_prefix("0x").or_else(|| digits.strip_prefix("0X")) {
        i64::from_str_radix(h, 16).ok()
    } else if let Some(o) = digits.strip_prefix("0o").or_else(|| digits.strip_prefix("0O")) {
        i64::from_str_radix(o, 8).ok()
    } else if let Some(b) = digits.strip_prefix("0b").or_else(|| digits.strip_prefix("0B")) {
        i64::from_str_radix(b, 2).ok()
    } else if digits.len() > 1 && digits.starts_with('0') && digits.bytes().all(|b| b.is_ascii_digit()) {
        i64::from_str_radix(&digits[1..], 8).ok()
    } else {
        digits.parse::<i64>().ok()
    };
    if let Some(i) = int {
        return Some(Number::Int(if neg { -i } else { i }));
    }
    let f: f64 = digits.parse().ok()?;
    if f.fract() == 0.0 && f.abs() < 9.0e15 && !digits.contains(['.', 'e', 'E']) {
        return Some(Number::Int(f as i64));
    }
    Some(Number::Float(if neg { -f } else { f }))
}
