//! A parsed Dockerfile. Strings are kept as written (quotes, escapes and `$VAR`
//! included) unless a field says otherwise; the builder expands them with
//! [`crate::expand`] when the step runs, because the values in scope (ARG, ENV) are
//! only known then.

/// A whole Dockerfile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dockerfile {
    /// The parser directives at the top (`# syntax=`, `# escape=`, `# check=`).
    pub directives: Directives,
    /// `ARG`s before the first `FROM`: usable in `FROM` lines, and inside a stage only
    /// after an `ARG NAME` without a value re-declares them there.
    pub global_args: Vec<ArgDecl>,
    /// The stages, in file order; at least one.
    pub stages: Vec<Stage>,
}

/// Parser directives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Directives {
    /// `# syntax=...`, recorded only (lindocker has one frontend).
    pub syntax: Option<String>,
    /// The escape character: `\` by default, or `` ` `` from `# escape=`.
    pub escape: char,
}

impl Default for Directives {
    fn default() -> Self {
        Directives { syntax: None, escape: '\\' }
    }
}

/// One `FROM` and the instructions up to the next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stage {
    /// Position among the stages (0-based); `COPY --from=0` names it.
    pub index: usize,
    /// The `AS` name, lower-cased; None without `AS`.
    pub name: Option<String>,
    /// The image to start from as written (`busybox`, `$BASE`, `scratch`, a stage name);
    /// expanded with the global ARGs only.
    pub base: String,
    /// `FROM --platform=...` as written.
    pub platform: Option<String>,
    /// The `FROM` instruction itself (line, original text).
    pub from: Source,
    /// The instructions of the stage, in order (not including `FROM`).
    pub instructions: Vec<Instruction>,
}

/// Where an instruction came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// 1-based line of the instruction's first line.
    pub line: usize,
    /// The instruction as written, continuation lines joined as BuildKit joins them
    /// (the escape character and the blanks after it removed, nothing added: `RUN a \`
    /// then `    b` make `RUN a     b`), comment lines inside it removed, heredoc bodies not
    /// included, surrounding blanks trimmed. This is what `history`'s `CreatedBy` is
    /// made of.
    pub original: String,
}

/// One instruction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instruction {
    /// Line and text.
    pub source: Source,
    /// What it is.
    pub kind: Kind,
}

/// The instructions of the language (`FROM` is a [`Stage`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// `RUN`.
    Run(Run),
    /// `COPY`.
    Copy(Copy),
    /// `ADD` (same fields; local tars are extracted, URLs fetched or refused).
    Add(Copy),
    /// `ENV k=v ...` (or the legacy `ENV k v`): pairs, values as written.
    Env(Vec<KeyValue>),
    /// `ARG name[=default] ...`.
    Arg(Vec<ArgDecl>),
    /// `WORKDIR path`, as written.
    Workdir(String),
    /// `USER user[:group]`, as written.
    User(String),
    /// `EXPOSE port[/proto] ...`, each as written.
    Expose(Vec<String>),
    /// `VOLUME ["/a", "/b"]` or `VOLUME /a /b`.
    Volume(Vec<String>),
    /// `LABEL k=v ...`, values as written.
    Label(Vec<KeyValue>),
    /// `CMD`.
    Cmd(Command),
    /// `ENTRYPOINT`.
    Entrypoint(Command),
    /// `HEALTHCHECK`.
    Healthcheck(Healthcheck),
    /// `STOPSIGNAL signal`, as written.
    StopSignal(String),
    /// `SHELL ["exe", "arg"]` (JSON form only, as Docker requires).
    Shell(Vec<String>),
    /// `ONBUILD INSTRUCTION`: the trigger, stored in the image and run by builds that
    /// start `FROM` it. Its `source.original` is the trigger's text (without `ONBUILD`).
    Onbuild(Box<Instruction>),
    /// `MAINTAINER name` (deprecated; sets the image's author).
    Maintainer(String),
}

/// `key=value` (ENV, LABEL), both as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyValue {
    /// The key, as written (may contain `$VAR` or quotes).
    pub key: String,
    /// The value, as written.
    pub value: String,
}

/// `ARG name[=default]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArgDecl {
    /// The name (a plain identifier).
    pub name: String,
    /// The default as written, if any.
    pub default: Option<String>,
}

/// A command in shell form (run by the `SHELL`, `/bin/sh -c` by default) or exec form
/// (a JSON array, run as is).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `RUN echo $HOME`: the text after the instruction (and its flags), as written.
    Shell(String),
    /// `RUN ["echo", "hi"]`: the decoded JSON strings.
    Exec(Vec<String>),
}

/// `RUN [--mount=...] [--network=...] [--security=...] command`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run {
    /// The command. With heredocs and shell form, this is the first line (e.g.
    /// `<<EOF` or `bash <<EOF`); see [`Heredoc`].
    pub command: Command,
    /// `--mount=...`, parsed.
    pub mounts: Vec<RunMount>,
    /// `--network=default|none|host`.
    pub network: Option<String>,
    /// `--security=insecure|sandbox`, as written.
    pub security: Option<String>,
    /// Heredocs opened on the command line, in order.
    pub heredocs: Vec<Heredoc>,
}

/// A heredoc (`<<EOF`, `<<-EOF`, `<<"EOF"`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heredoc {
    /// The delimiter word, unquoted (`EOF`).
    pub name: String,
    /// The body: the lines between the opening line and the delimiter, each ending in
    /// `\n`; with `<<-`, leading tabs removed.
    pub content: String,
    /// Whether `$VAR`s in the body are expanded (false when the delimiter was quoted).
    pub expand: bool,
    /// `<<-`: leading tabs were stripped.
    pub chomp: bool,
}

/// `RUN --mount=type=...,...`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunMount {
    /// `type=` (default `bind`).
    pub kind: MountKind,
    /// `target=` / `dst=` / `destination=`, as written. Required for bind, cache, tmpfs.
    pub target: String,
    /// `source=` / `src=`, as written: a path in `from` (bind) or in the cache.
    pub source: Option<String>,
    /// `from=`: a stage name or index, or an image (bind, cache).
    pub from: Option<String>,
    /// `id=`: the cache's identity (default: the target).
    pub id: Option<String>,
    /// `ro` / `readonly` / `rw` / `readwrite` (bind defaults to read-only, others to
    /// read-write).
    pub readonly: Option<bool>,
    /// `sharing=shared|private|locked` (cache).
    pub sharing: Option<String>,
    /// `mode=` as written (octal, cache and secret).
    pub mode: Option<String>,
    /// `uid=`, `gid=` (cache, secret).
    pub uid: Option<u32>,
    /// See `uid`.
    pub gid: Option<u32>,
    /// `size=` for tmpfs, as written (bytes or with a unit).
    pub size: Option<String>,
    /// `required=` (secret, ssh).
    pub required: Option<bool>,
}

/// The kinds of `RUN --mount`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MountKind {
    /// Files from the context, a stage or an image, read-only by default.
    Bind,
    /// A directory kept between builds (not part of the cache key).
    Cache,
    /// An empty tmpfs.
    Tmpfs,
    /// A secret file (`--secret`).
    Secret,
    /// An SSH agent socket (`--ssh`).
    Ssh,
}

/// `COPY` and `ADD`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Copy {
    /// The sources as written (wildcards, `$VAR` included); for heredoc sources, the
    /// `<<NAME` word (its content is in `heredocs`).
    pub sources: Vec<String>,
    /// The destination as written (relative to WORKDIR unless absolute; a trailing `/`
    /// means a directory).
    pub dest: String,
    /// `--from=stage|index|image`.
    pub from: Option<String>,
    /// `--chown=user[:group]` as written.
    pub chown: Option<String>,
    /// `--chmod=octal` as written.
    pub chmod: Option<String>,
    /// `--link`.
    pub link: bool,
    /// `--parents`.
    pub parents: bool,
    /// `--exclude=pattern`, each as written.
    pub exclude: Vec<String>,
    /// `ADD --checksum=sha256:...`.
    pub checksum: Option<String>,
    /// `ADD --keep-git-dir`.
    pub keep_git_dir: bool,
    /// `COPY <<EOF /dest`: the inline files.
    pub heredocs: Vec<Heredoc>,
}

/// `HEALTHCHECK`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Healthcheck {
    /// `HEALTHCHECK NONE`: turns off a check inherited from the base.
    None,
    /// `HEALTHCHECK [options] CMD command`.
    Check {
        /// The test command.
        command: Command,
        /// `--interval=` as written (a Go duration, e.g. `30s`).
        interval: Option<String>,
        /// `--timeout=`.
        timeout: Option<String>,
        /// `--start-period=`.
        start_period: Option<String>,
        /// `--start-interval=`.
        start_interval: Option<String>,
        /// `--retries=`.
        retries: Option<u32>,
    },
}
