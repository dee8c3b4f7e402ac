//! Executes a parsed template over a [`Val`], as Go's text/template does: dot, variables,
//! field chains, pipelines, control structures; errors carry the node's position.

use super::Error;
use super::funcs::{self, Call};
use super::lex::line_of;
use super::parse::{Arg, Cmd, List, Node, Number, Pipe, Tree};
use super::value::{Nil, Val};

/// Nested templates and parentheses deeper than this are an error (Go allows 100000,
/// but our stack is smaller).
const MAX_DEPTH: usize = 100;
/// Evaluation steps one template may take (a `range` over a huge number is refused).
const BUDGET: u64 = 10_000_000;
/// Output one template may write.
const MAX_OUTPUT: usize = 64 << 20;

enum Flow {
    Normal,
    Break,
    Continue,
}

struct State<'t> {
    tree: &'t Tree,
    text: &'t str,
    vars: Vec<(String, Val)>,
    out: String,
    depth: usize,
    budget: u64,
    header: bool,
}

/// Runs `tree` over `data`; `header` selects Docker's header functions (table headers).
pub fn execute(tree: &Tree, text: &str, data: &Val, header: bool) -> (String, Result<(), Error>) {
    let mut s = State {
        tree,
        text,
        vars: vec![("$".into(), data.clone())],
        out: String::new(),
        depth: 0,
        budget: BUDGET,
        header,
    };
    let result = s.walk(data, &tree.root).map(|_| ());
    (s.out, result)
}

impl State<'_> {
    fn error(&self, pos: usize, context: impl ToString, msg: impl Into<String>) -> Error {
        let line = line_of(self.text, pos);
        let line_start = self.text[..pos.min(self.text.len())].rfind('\n').map_or(0, |n| n + 1);
        Error::Exec { line, col: pos - line_start, context: context.to_string(), msg: msg.into() }
    }

    fn step(&mut self, pos: usize) -> Result<(), Error> {
        self.budget = self.budget.checked_sub(1).ok_or_else(|| self.error(pos, "", "template too costly"))?;
        if self.out.len() > MAX_OUTPUT {
            return Err(self.error(pos, "", "output too large"));
        }
        Ok(())
    }

    fn walk(&mut self, dot: &Val, list: &List) -> Result<Flow, Error> {
        for node in list {
            match node {
                Node::Text(t) => self.out.push_str(t),
                Node::Action(pipe) => {
                    let v = self.pipeline(dot, pipe)?;
                    if pipe.decl.is_empty() {
                        self.out.push_str(&v.print());
                    }
                }
                Node::If { pipe, body, other } | Node::With { pipe, body, other } => {
                    let mark = self.vars.len();
                    let v = self.pipeline(dot, pipe)?;
                    let flow = if v.truth() {
                        if matches!(node, Node::With { .. }) { self.walk(&v, body)? } else { self.walk(dot, body)? }
                    } else {
                        self.walk(dot, other)?
                    };
                    self.vars.truncate(mark);
                    if !matches!(flow, Flow::Normal) {
                        return Ok(flow);
                    }
                }
                Node::Range { pipe, body, other } => {
                    let mark = self.vars.len();
                    let flow = self.range(dot, pipe, body, other)?;
                    self.vars.truncate(mark);
                    if !matches!(flow, Flow::Normal) {
                        return Ok(flow);
                    }
                }
                Node::Template { pos, name, pipe } => {
                    let Some(list) = self.tree.defines.get(name) else {
                        return Err(self.error(
                            *pos,
                            format!("template {name:?}"),
                            format!("no such template {name:?}"),
                        ));
                    };
                    let v = match pipe {
                        Some(p) => self.pipeline(dot, p)?,
                        None => Val::Nil(Nil::Invalid),
                    };
                    self.depth += 1;
                    if self.depth > MAX_DEPTH {
                        return Err(self.error(*pos, format!("template {name:?}"), "exceeded maximum template depth"));
                    }
                    let saved = std::mem::replace(&mut self.vars, vec![("$".into(), v.clone())]);
                    self.walk(&v, list)?;
                    self.vars = saved;
                    self.depth -= 1;
                }
                Node::Break => return Ok(Flow::Break),
                Node::Continue => return Ok(Flow::Continue),
            }
        }
        Ok(Flow::Normal)
    }

    fn range(&mut self, dot: &Val, pipe: &Pipe, body: &List, other: &List) -> Result<Flow, Error> {
        let v = self.pipeline_value(dot, pipe)?;
        let items: Vec<(Val, Val)> = match &v {
            Val::List(l) => l.iter().enumerate().map(|(i, e)| (Val::Int(i as i64), e.clone())).collect(),
            Val::Map { entries, .. } => entries.iter().map(|(k, e)| (Val::Str(k.clone()), e.clone())).collect(),
            Val::Int(n) => {
                if pipe.decl.len() > 1 {
                    return Err(self.error(
                        pipe.pos,
                        pipe,
                        format!("can't use {n} to iterate over more than one variable"),
                    ));
                }
                if *n > BUDGET as i64 {
                    return Err(self.error(pipe.pos, pipe, "template too costly"));
                }
                (0..(*n).max(0)).map(|i| (Val::Int(i), Val::Int(i))).collect()
            }
            Val::Nil(_) => Vec::new(),
            other => return Err(self.error(pipe.pos, pipe, format!("range can't iterate over {}", other.go(false)))),
        };
        if items.is_empty() {
            return self.walk(dot, other);
        }
        let mark = self.vars.len();
        for (index, elem) in items {
            self.step(pipe.pos)?;
            match (pipe.decl.as_slice(), pipe.assign) {
                ([], _) => {}
                ([one], false) => self.vars.push((one.clone(), elem.clone())),
                ([one], true) => self.set_var(one, elem.clone()),
                ([i, e], false) => {
                    self.vars.push((i.clone(), index));
                    self.vars.push((e.clone(), elem.clone()));
                }
                ([i, e, ..], true) => {
                    self.set_var(i, index);
                    self.set_var(e, elem.clone());
                }
                _ => {}
            }
            let flow = self.walk(&elem, body)?;
            self.vars.truncate(mark);
            if matches!(flow, Flow::Break) {
                break;
            }
        }
        Ok(Flow::Normal)
    }

    fn set_var(&mut self, name: &str, v: Val) {
        if let Some(slot) = self.vars.iter_mut().rev().find(|(n, _)| n == name) {
            slot.1 = v;
        }
    }

    fn var(&self, name: &str) -> Val {
        self.vars.iter().rev().find(|(n, _)| n == name).map_or(Val::Nil(Nil::Invalid), |(_, v)| v.clone())
    }

    /// The pipeline's value, without declaring its variables.
    fn pipeline_value(&mut self, dot: &Val, pipe: &Pipe) -> Result<Val, Error> {
        self.step(pipe.pos)?;
        let mut value: Option<Val> = None;
        for cmd in &pipe.cmds {
            value = Some(self.command(dot, cmd, value)?);
        }
        Ok(value.unwrap_or(Val::Nil(Nil::Invalid)))
    }

    /// The pipeline's value; declares or assigns its variables.
    fn pipeline(&mut self, dot: &Val, pipe: &Pipe) -> Result<Val, Error> {
        let v = self.pipeline_value(dot, pipe)?;
        for name in &pipe.decl {
            if pipe.assign {
                self.set_var(name, v.clone());
            } else {
                self.vars.push((name.clone(), v.clone()));
            }
        }
        Ok(v)
    }

    fn not_a_function(&self, cmd: &Cmd, final_: &Option<Val>) -> Result<(), Error> {
        if cmd.args.len() > 1 || final_.is_some() {
            return Err(self.error(cmd.pos, cmd, format!("can't give argument to non-function {}", cmd.args[0])));
        }
        Ok(())
    }

    fn command(&mut self, dot: &Val, cmd: &Cmd, final_: Option<Val>) -> Result<Val, Error> {
        let first = &cmd.args[0];
        match first {
            Arg::Field(pos, names) => self.field_chain(dot, dot.clone(), *pos, first, names, cmd, final_),
            Arg::Chain(pos, node, names) => {
                if let Arg::Nil(_) = node.as_ref() {
                    return Err(self.error(*pos, first, format!("indirection through explicit nil in {first}")));
                }
                let receiver = self.arg(dot, node)?;
                self.field_chain(dot, receiver, *pos, first, names, cmd, final_)
            }
            Arg::Var(pos, name, names) => {
                let v = self.var(name);
                if names.is_empty() {
                    self.not_a_function(cmd, &final_)?;
                    return Ok(v);
                }
                self.field_chain(dot, v, *pos, first, names, cmd, final_)
            }
            Arg::Ident(pos, name) => self.function(dot, *pos, name, cmd, final_),
            Arg::Pipe(_, p) => {
                self.not_a_function(cmd, &final_)?;
                self.nested(|s| s.pipeline(dot, p), p.pos)
            }
            Arg::Nil(pos) => Err(self.error(*pos, cmd, "nil is not a command")),
            other => {
                self.not_a_function(cmd, &final_)?;
                self.arg(dot, other)
            }
        }
    }

    fn nested<T>(&mut self, f: impl FnOnce(&mut Self) -> Result<T, Error>, pos: usize) -> Result<T, Error> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.error(pos, "", "exceeded maximum template depth"));
        }
        let r = f(self);
        self.depth -= 1;
        r
    }

    /// `receiver.A.B`; the last field may be a method given the command's other
    /// arguments (and the piped value).
    #[allow(clippy::too_many_arguments)]
    fn field_chain(
        &mut self,
        dot: &Val,
        receiver: Val,
        pos: usize,
        node: &Arg,
        names: &[String],
        cmd: &Cmd,
        final_: Option<Val>,
    ) -> Result<Val, Error> {
        let mut v = receiver;
        for (i, name) in names.iter().enumerate() {
            // Docker's inspect leaves nil pointers (`State.Health`) out of its JSON and
            // then reports the missing key: so do we.
            if let (Val::Nil(Nil::Ptr), Some(prev)) = (&v, i.checked_sub(1).map(|p| &names[p])) {
                return Err(self.error(pos, node, format!("map has no entry for key {prev:?}")));
            }
            let last = i + 1 == names.len();
            let has_args = last && (cmd.args.len() > 1 || final_.is_some());
            v = match v {
                Val::Lookup(table) if last => return self.lookup(dot, &table, name, pos, node, cmd, final_),
                Val::Struct(fields) => match fields.get(name) {
                    Some(Val::Lookup(table)) if last => return self.lookup(dot, table, name, pos, node, cmd, final_),
                    Some(_) if has_args => {
                        return Err(self.error(
                            pos,
                            node,
                            format!("{name} has arguments but cannot be invoked as function"),
                        ));
                    }
                    Some(field) => field.clone(),
                    None => return Err(self.error(pos, node, format!("map has no entry for key {name:?}"))),
                },
                Val::Map { entries, .. } => {
                    if has_args {
                        return Err(self.error(pos, node, format!("{name} is not a method but has arguments")));
                    }
                    entries.get(name).cloned().unwrap_or(Val::Nil(Nil::Invalid))
                }
                Val::Nil(Nil::Invalid) | Val::Nil(Nil::Map) => Val::Nil(Nil::Invalid),
                Val::Nil(Nil::Ptr) => {
                    return Err(self.error(pos, node, format!("nil pointer evaluating interface {{}}.{name}")));
                }
                other => {
                    return Err(self.error(
                        pos,
                        node,
                        format!("can't evaluate field {name} in type {}", other.type_name()),
                    ));
                }
            };
        }
        Ok(v)
    }

    /// A method taking one string: `.Label "key"`.
    #[allow(clippy::too_many_arguments)]
    fn lookup(
        &mut self,
        dot: &Val,
        table: &std::collections::BTreeMap<String, String>,
        name: &str,
        pos: usize,
        node: &Arg,
        cmd: &Cmd,
        final_: Option<Val>,
    ) -> Result<Val, Error> {
        let mut args = Vec::new();
        for a in &cmd.args[1..] {
            args.push(self.arg(dot, a)?);
        }
        args.extend(final_);
        match args.as_slice() {
            [Val::Str(key)] => Ok(Val::Str(table.get(key).cloned().unwrap_or_default())),
            [other] => {
                Err(self.error(pos, node, format!("wrong type for value; expected string; got {}", other.type_name())))
            }
            _ => Err(self.error(pos, node, format!("wrong number of args for {name}: want 1 got {}", args.len()))),
        }
    }

    /// An argument's value.
    fn arg(&mut self, dot: &Val, arg: &Arg) -> Result<Val, Error> {
        Ok(match arg {
            Arg::Dot(_) => dot.clone(),
            Arg::Nil(_) => Val::Nil(Nil::Invalid),
            Arg::Bool(_, b) => Val::Bool(*b),
            Arg::Num(_, Number::Int(i), _) => Val::Int(*i),
            Arg::Num(_, Number::Float(f), _) => Val::Float(*f),
            Arg::Str(_, s, _) => Val::Str(s.clone()),
            Arg::Field(pos, names) => {
                let cmd = Cmd { pos: *pos, args: vec![arg.clone()] };
                self.field_chain(dot, dot.clone(), *pos, arg, names, &cmd, None)?
            }
            Arg::Var(pos, name, names) => {
                let v = self.var(name);
                if names.is_empty() {
                    v
                } else {
                    let cmd = Cmd { pos: *pos, args: vec![arg.clone()] };
                    self.field_chain(dot, v, *pos, arg, names, &cmd, None)?
                }
            }
            Arg::Chain(..) | Arg::Pipe(..) | Arg::Ident(..) => {
                let cmd = Cmd { pos: arg.pos(), args: vec![arg.clone()] };
                self.nested(|s| s.command(dot, &cmd, None), arg.pos())?
            }
        })
    }

    fn function(&mut self, dot: &Val, pos: usize, name: &str, cmd: &Cmd, final_: Option<Val>) -> Result<Val, Error> {
        // `and` and `or` stop at the first argument that decides.
        if name == "and" || name == "or" {
            let count = cmd.args.len() - 1 + usize::from(final_.is_some());
            if count == 0 {
                return Err(self.error(pos, name, format!("wrong number of args for {name}: want at least 1 got 0")));
            }
            let mut v = Val::Nil(Nil::Invalid);
            for a in &cmd.args[1..] {
                v = self.arg(dot, a)?;
                if v.truth() != (name == "and") {
                    return Ok(v);
                }
            }
            return Ok(final_.unwrap_or(v));
        }
        let mut args = Vec::with_capacity(cmd.args.len());
        for a in &cmd.args[1..] {
            args.push(self.arg(dot, a)?);
        }
        args.extend(final_);
        match funcs::call(name, &args, self.header) {
            Ok(v) => Ok(v),
            Err(Call::Args(msg)) => Err(self.error(pos, name, msg)),
            Err(Call::Failed(msg)) => Err(self.error(cmd.pos, cmd, format!("error calling {name}: {msg}"))),
        }
    }
}
