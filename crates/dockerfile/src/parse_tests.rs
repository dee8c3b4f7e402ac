//! Tests of the parser. The `testdata/parser` files are BuildKit's own parser test
//! cases (moby/buildkit `frontend/dockerfile/parser`, Apache-2.0).

use super::*;
use crate::ast::*;
use std::path::PathBuf;

fn testdata() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src/testdata/parser")
}

/// BuildKit's `Node.Dump`.
fn dump(n: &RawNode) -> String {
    let mut s = n.cmd.to_lowercase();
    if !n.flags.is_empty() {
        let f: Vec<String> = n.flags.iter().map(|f| go_quote(f)).collect();
        s.push_str(&format!(" [{}]", f.join(" ")));
    }
    if let Some(sub) = &n.sub {
        s.push_str(&format!(" ({})", dump(sub)));
    }
    for a in &n.args {
        s.push(' ');
        s.push_str(&go_quote(a));
    }
    s.trim().to_string()
}

fn dump_file(text: &str) -> String {
    let raw = parse_raw(text).unwrap();
    raw.nodes.iter().map(|n| format!("({})\n", dump(n))).collect()
}

fn err(text: &str) -> ParseError {
    parse(text).unwrap_err()
}

fn only(text: &str) -> Instruction {
    let df = parse(text).unwrap_or_else(|e| panic!("{text:?}: {e}"));
    assert_eq!(df.stages.len(), 1);
    df.stages[0].instructions.last().cloned().unwrap()
}

fn kind(text: &str) -> Kind {
    only(&format!("FROM scratch\n{text}\n")).kind
}

fn kind_err(text: &str) -> String {
    parse(&format!("FROM scratch\n{text}\n")).unwrap_err().message
}

#[test]
fn buildkit_parser_testfiles_dump_as_buildkit() {
    let mut n = 0;
    for entry in std::fs::read_dir(testdata().join("testfiles")).unwrap() {
        let dir = entry.unwrap().path();
        let df = std::fs::read_to_string(dir.join("Dockerfile")).unwrap();
        let expected = std::fs::read_to_string(dir.join("result")).unwrap();
        assert_eq!(dump_file(&df), expected, "{}", dir.display());
        n += 1;
    }
    assert!(n >= 30);
}

#[test]
fn buildkit_parser_testfiles_type_check() {
    // All but the ones BuildKit's instruction layer refuses (bad flags and health
    // checks; no FROM).
    let refused = ["flags", "health", "json"];
    for entry in std::fs::read_dir(testdata().join("testfiles")).unwrap() {
        let dir = entry.unwrap().path();
        let name = dir.file_name().unwrap().to_str().unwrap().to_string();
        let df = std::fs::read_to_string(dir.join("Dockerfile")).unwrap();
        let result = parse(&df);
        let has_from = df.lines().any(|l| l.trim_start().to_ascii_lowercase().starts_with("from"));
        if refused.contains(&name.as_str()) || !has_from {
            assert!(result.is_err(), "{name}");
        } else {
            assert!(result.is_ok(), "{name}: {result:?}");
        }
    }
}

#[test]
fn buildkit_negative_testfiles_fail() {
    for entry in std::fs::read_dir(testdata().join("testfiles-negative")).unwrap() {
        let dir = entry.unwrap().path();
        let df = std::fs::read_to_string(dir.join("Dockerfile")).unwrap();
        assert!(parse(&df).is_err(), "{}", dir.display());
    }
    assert_eq!(err("").message, "file with no instructions");
    assert_eq!(err("# a\n\n  # b\n").message, "file with no instructions");
    assert_eq!(err("ARG A=1\n").message, "dockerfile contains no stages to build");
    assert_eq!(err("FROM busybox\n\nENV PATH\n").message, "ENV must have two arguments");
    assert_eq!(err("FROM busybox\nENV PATH\n").line, 2);
    assert_eq!(
        err("FROM a\nCMD [ \"echo\", [ \"nested json\" ] ]").message,
        "when using JSON array syntax, arrays must be comprised of strings only"
    );
}

#[test]
fn line_numbers_as_buildkit() {
    let df = std::fs::read_to_string(testdata().join("testfile-line/Dockerfile")).unwrap();
    let raw = parse_raw(&df).unwrap();
    let lines: Vec<usize> = raw.nodes.iter().map(|n| n.line).collect();
    assert_eq!(lines, vec![5, 11, 17]);
    let parsed = parse(&df).unwrap();
    assert_eq!(parsed.stages[0].from.line, 5);
    assert_eq!(parsed.stages[0].instructions[1].source.line, 17);
}

#[test]
fn parse_words_as_buildkit() {
    let cases: &[(&str, &[&str])] = &[
        ("foo", &["foo"]),
        ("foo bar", &["foo", "bar"]),
        ("foo\\ bar", &["foo\\ bar"]),
        ("foo=bar", &["foo=bar"]),
        ("foo bar 'abc xyz'", &["foo", "bar", "'abc xyz'"]),
        ("foo bar \"abc xyz\"", &["foo", "bar", "\"abc xyz\""]),
        ("àöû", &["àöû"]),
        ("föo bàr \"âbc xÿz\"", &["föo", "bàr", "\"âbc xÿz\""]),
    ];
    for (input, expect) in cases {
        assert_eq!(parse_words(input, '\\'), *expect, "{input}");
    }
}

#[test]
fn a_common_dockerfile() {
    let text = "\
# syntax=docker/dockerfile:1
ARG BASE=busybox
FROM ${BASE} AS Build
WORKDIR /src
COPY --chown=1:2 --chmod=644 a.txt b* /src/
RUN --mount=type=cache,target=/root/.cache \\
    echo hi && \\
    ls
ENV A=1 B=\"two words\"
USER nobody
EXPOSE 80/tcp 443
LABEL org.x=\"y\"
FROM build
COPY --from=build /src/a.txt /a
ENTRYPOINT [\"/bin/sh\", \"-c\"]
CMD echo $HOME
";
    let df = parse(text).unwrap();
    assert_eq!(df.directives.syntax.as_deref(), Some("docker/dockerfile:1"));
    assert_eq!(df.directives.escape, '\\');
    assert_eq!(df.global_args, vec![ArgDecl { name: "BASE".into(), default: Some("busybox".into()) }]);
    assert_eq!(df.stages.len(), 2);
    let s0 = &df.stages[0];
    assert_eq!(s0.name.as_deref(), Some("build"));
    assert_eq!(s0.base, "${BASE}");
    assert_eq!(s0.from, Source { line: 3, original: "FROM ${BASE} AS Build".into() });
    assert_eq!(s0.instructions[0].kind, Kind::Workdir("/src".into()));
    let Kind::Copy(c) = &s0.instructions[1].kind else { panic!() };
    assert_eq!(c.sources, vec!["a.txt", "b*"]);
    assert_eq!(c.dest, "/src/");
    assert_eq!(c.chown.as_deref(), Some("1:2"));
    assert_eq!(c.chmod.as_deref(), Some("644"));
    let run = &s0.instructions[2];
    assert_eq!(run.source.line, 6);
    assert_eq!(run.source.original, "RUN --mount=type=cache,target=/root/.cache     echo hi &&     ls");
    let Kind::Run(r) = &run.kind else { panic!() };
    assert_eq!(r.command, Command::Shell("echo hi &&     ls".into()));
    assert_eq!(r.mounts.len(), 1);
    assert_eq!(r.mounts[0].kind, MountKind::Cache);
    assert_eq!(r.mounts[0].target, "/root/.cache");
    assert_eq!(
        s0.instructions[3].kind,
        Kind::Env(vec![
            KeyValue { key: "A".into(), value: "1".into() },
            KeyValue { key: "B".into(), value: "\"two words\"".into() },
        ])
    );
    assert_eq!(s0.instructions[4].kind, Kind::User("nobody".into()));
    assert_eq!(s0.instructions[5].kind, Kind::Expose(vec!["80/tcp".into(), "443".into()]));
    let s1 = &df.stages[1];
    assert_eq!(s1.index, 1);
    assert_eq!(s1.name, None);
    let Kind::Copy(c) = &s1.instructions[0].kind else { panic!() };
    assert_eq!(c.from.as_deref(), Some("build"));
    assert_eq!(s1.instructions[1].kind, Kind::Entrypoint(Command::Exec(vec!["/bin/sh".into(), "-c".into()])));
    assert_eq!(s1.instructions[2].kind, Kind::Cmd(Command::Shell("echo $HOME".into())));
}

#[test]
fn instruction_names_are_case_insensitive() {
    let df = parse("from busybox as B\nrun echo\nCoPy a b\n").unwrap();
    assert_eq!(df.stages[0].name.as_deref(), Some("b"));
    assert!(matches!(df.stages[0].instructions[0].kind, Kind::Run(_)));
    assert!(matches!(df.stages[0].instructions[1].kind, Kind::Copy(_)));
}

#[test]
fn stage_names() {
    assert_eq!(
        err("FROM a AS 1x\n").message,
        "invalid name for build stage: \"1x\", name can't start with a number or contain symbols"
    );
    assert!(err("FROM a AS b$c\n").message.contains("invalid name"));
    assert_eq!(err("FROM a b\n").message, "FROM requires either one or three arguments");
    assert_eq!(err("FROM a IS b\n").message, "FROM requires either one or three arguments");
    assert_eq!(err("FROM\n").message, "FROM requires either one or three arguments");
    let df = parse("FROM --platform=$BUILDPLATFORM a as x.y-z_1\n").unwrap();
    assert_eq!(df.stages[0].name.as_deref(), Some("x.y-z_1"));
    assert_eq!(df.stages[0].platform.as_deref(), Some("$BUILDPLATFORM"));
    assert_eq!(err("FROM --plat=x a\n").message, "unknown flag: --plat");
}

#[test]
fn instructions_before_from() {
    let e = err("ARG A\nRUN echo\nFROM a\n");
    assert_eq!((e.line, e.message.as_str()), (2, "no build stage in current context"));
    let df = parse("ARG A\nARG B=2 C\nFROM a\nARG A\n").unwrap();
    assert_eq!(df.global_args.len(), 3);
    assert_eq!(df.stages[0].instructions.len(), 1);
}

#[test]
fn unknown_instruction() {
    assert_eq!(kind_err("FOO bar"), "unknown instruction: FOO");
}

#[test]
fn directives() {
    let df = parse("# escape=`\nFROM a\nRUN echo `\n  hi\n").unwrap();
    assert_eq!(df.directives.escape, '`');
    let Kind::Run(r) = &df.stages[0].instructions[0].kind else { panic!() };
    assert_eq!(r.command, Command::Shell("echo   hi".into()));
    // Windows paths with the backtick escape: backslashes are ordinary.
    let df = parse("# escape=`\nFROM a\nWORKDIR c:\\a\\\n").unwrap();
    assert_eq!(df.stages[0].instructions[0].kind, Kind::Workdir("c:\\a\\".into()));
    // After a comment, a blank line or an instruction, directives are comments.
    for text in ["# hi\n# escape=`\nFROM a\n", "\n# escape=`\nFROM a\n", "FROM a\n# escape=`\n"] {
        assert_eq!(parse(text).unwrap().directives.escape, '\\', "{text:?}");
    }
    // Case, spaces, syntax and check together, an unknown one ends them.
    let df = parse("#  ESCAPE = `\n# Syntax = x/y:1 \n# check=skip=all\nFROM a\n").unwrap();
    assert_eq!((df.directives.escape, df.directives.syntax.as_deref()), ('`', Some("x/y:1")));
    let df = parse("# foo=bar\n# escape=`\nFROM a\n").unwrap();
    assert_eq!(df.directives.escape, '\\');
    let e = err("# escape=`\n# escape=\\\nFROM a\n");
    assert_eq!((e.line, e.message.as_str()), (2, "only one escape parser directive can be used"));
    assert_eq!(err("# escape=x\nFROM a\n").message, "invalid escape token 'x' does not match ` or \\");
    // A byte-order mark is ignored.
    assert_eq!(parse("\u{feff}# escape=`\nFROM a\n").unwrap().directives.escape, '`');
}

#[test]
fn continuations_and_comments() {
    let text = "FROM a\nRUN echo a \\\n# comment inside\n  \n    b \\  \n\t\\\n c\nRUN x\\\\\nRUN y\n";
    let df = parse(text).unwrap();
    let ins = &df.stages[0].instructions;
    assert_eq!(ins[0].source.original, "RUN echo a     b \t c");
    assert_eq!(ins[0].source.line, 2);
    // An escaped escape at the end is not a continuation.
    assert_eq!(ins[1].source.original, "RUN x\\\\");
    assert_eq!(ins[2].source.line, 9);
    // A continuation at the end of the file ends the instruction.
    let df = parse("FROM a\nRUN echo \\").unwrap();
    assert_eq!(df.stages[0].instructions[0].source.original, "RUN echo");
    // CRLF line endings.
    let df = parse("FROM a\r\nRUN a \\\r\n b\r\n").unwrap();
    assert_eq!(df.stages[0].instructions[0].source.original, "RUN a  b");
}

#[test]
fn json_and_shell_forms() {
    assert_eq!(kind("CMD [\"a\", \"b c\"]"), Kind::Cmd(Command::Exec(vec!["a".into(), "b c".into()])));
    assert_eq!(kind("CMD []"), Kind::Cmd(Command::Exec(vec![])));
    assert_eq!(kind("CMD"), Kind::Cmd(Command::Exec(vec![])));
    // Invalid JSON is shell form, as written.
    assert_eq!(kind("CMD ['a']"), Kind::Cmd(Command::Shell("['a']".into())));
    assert_eq!(
        kind("RUN [\"a\" "),
        Kind::Run(Run {
            command: Command::Shell("[\"a\"".into()),
            mounts: vec![],
            network: None,
            security: None,
            heredocs: vec![],
        })
    );
    assert_eq!(kind("ENTRYPOINT [\"a\"] x"), Kind::Entrypoint(Command::Shell("[\"a\"] x".into())));
    assert_eq!(kind_err("RUN [1]"), NOT_STRINGS);
    assert_eq!(kind("SHELL [\"/bin/bash\", \"-c\"]"), Kind::Shell(vec!["/bin/bash".into(), "-c".into()]));
    assert_eq!(kind_err("SHELL /bin/bash -c"), "SHELL requires the arguments to be in JSON form");
    assert_eq!(kind_err("SHELL []"), "SHELL requires at least one argument");
    assert_eq!(kind("VOLUME [\"/a\", \"/b\"]"), Kind::Volume(vec!["/a".into(), "/b".into()]));
    assert_eq!(kind("VOLUME /a  /b"), Kind::Volume(vec!["/a".into(), "/b".into()]));
    assert_eq!(kind_err("VOLUME [\"\"]"), "VOLUME specified can not be an empty string");
    assert_eq!(kind("COPY [\"a b\", \"/c d/\"]"), kind("COPY --link=false [\"a b\", \"/c d/\"]"));
    let Kind::Copy(c) = kind("COPY [\"<<a\", \"/c\"]") else { panic!() };
    assert_eq!((c.sources, c.heredocs), (vec!["<<a".to_string()], vec![]));
    assert_eq!(kind("RUN [\"echo\", \"\\u00e9\"]"), kind("RUN [\"echo\", \"é\"]"));
}

#[test]
fn env_label_arg_forms() {
    let kv = |k: &str, v: &str| KeyValue { key: k.into(), value: v.into() };
    assert_eq!(kind("ENV A B C"), Kind::Env(vec![kv("A", "B C")]));
    assert_eq!(
        kind("ENV A=\"b c\" D='e' F=g\\ h"),
        Kind::Env(vec![kv("A", "\"b c\""), kv("D", "'e'"), kv("F", "g\\ h")])
    );
    assert_eq!(kind("ENV A="), Kind::Env(vec![kv("A", "")]));
    assert_eq!(kind_err("ENV =x"), "ENV names can not be blank");
    assert_eq!(kind_err("ENV"), "ENV requires at least one argument");
    assert_eq!(kind_err("ENV A=1 B"), "Syntax error - can't find = in \"B\". Must be of the form: name=value");
    assert_eq!(kind("LABEL \"a b\"=\"c\""), Kind::Label(vec![kv("\"a b\"", "\"c\"")]));
    assert_eq!(kind_err("LABEL =x"), "LABEL names can not be blank");
    assert_eq!(kind_err("LABEL a"), "LABEL must have two arguments");
    assert_eq!(
        kind("ARG A B=1 C=\"x y\""),
        Kind::Arg(vec![
            ArgDecl { name: "A".into(), default: None },
            ArgDecl { name: "B".into(), default: Some("1".into()) },
            ArgDecl { name: "C".into(), default: Some("\"x y\"".into()) },
        ])
    );
    assert_eq!(kind_err("ARG =1"), "ARG names can not be blank");
    assert_eq!(kind_err("ARG"), "ARG requires at least one argument");
}

#[test]
fn single_argument_instructions() {
    assert_eq!(kind("WORKDIR /a b"), Kind::Workdir("/a b".into()));
    assert_eq!(kind("USER a:b"), Kind::User("a:b".into()));
    assert_eq!(kind("STOPSIGNAL SIGKILL"), Kind::StopSignal("SIGKILL".into()));
    assert_eq!(kind("MAINTAINER Jo <jo@x>"), Kind::Maintainer("Jo <jo@x>".into()));
    assert_eq!(kind_err("WORKDIR"), "WORKDIR requires exactly one argument");
    assert_eq!(kind_err("USER"), "USER requires exactly one argument");
    assert_eq!(kind_err("EXPOSE"), "EXPOSE requires at least one argument");
    assert_eq!(kind_err("VOLUME"), "VOLUME requires at least one argument");
    assert_eq!(kind_err("WORKDIR --x=1 /a"), "unknown flag: --x");
}

#[test]
fn flags() {
    let Kind::Copy(c) =
        kind("COPY --from=0 --chown=a:b --chmod=755 --link --parents --exclude=*.md --exclude=x -- a /b")
    else {
        panic!()
    };
    assert_eq!(c.from.as_deref(), Some("0"));
    assert_eq!(c.chown.as_deref(), Some("a:b"));
    assert_eq!(c.chmod.as_deref(), Some("755"));
    assert!(c.link && c.parents);
    assert_eq!(c.exclude, vec!["*.md", "x"]);
    assert_eq!(c.sources, vec!["a"]);
    let Kind::Add(a) = kind("ADD --checksum=sha256:abc --keep-git-dir=true --link=false x /y") else { panic!() };
    assert_eq!(a.checksum.as_deref(), Some("sha256:abc"));
    assert!(a.keep_git_dir && !a.link);
    assert_eq!(kind_err("ADD --from=x a b"), "unknown flag: --from");
    assert_eq!(kind_err("COPY --checksum=x a b"), "unknown flag: --checksum");
    assert_eq!(kind_err("COPY --user=me foo /tmp/"), "unknown flag: --user");
    assert_eq!(kind_err("COPY --from=a --from=b x y"), "duplicate flag specified: --from");
    assert_eq!(kind_err("COPY --from x y"), "missing a value on flag: --from");
    assert_eq!(kind_err("COPY --link= x y"), "missing a value on flag: --link");
    assert_eq!(kind_err("COPY --link=yes x y"), "expecting boolean value for flag --link, not: yes");
    assert_eq!(
        kind_err("COPY a"),
        "COPY requires at least two arguments, but only one was provided. Destination could not be determined"
    );
    // Quoted flag values lose their quotes, as in BuildKit.
    let Kind::Copy(c) = kind("COPY --chown=\"a b\" x y") else { panic!() };
    assert_eq!(c.chown.as_deref(), Some("a b"));
    // Non-ASCII flag values stay intact.
    let Kind::Copy(c) = kind("COPY --chown=ü x y") else { panic!() };
    assert_eq!(c.chown.as_deref(), Some("ü"));
    assert_eq!(kind_err("CMD --x=1 a"), "unknown flag: --x");
    let Kind::Cmd(c) = kind("CMD -- --x") else { panic!() };
    assert_eq!(c, Command::Shell("--x".into()));
}

#[test]
fn run_flags_and_mounts() {
    let Kind::Run(r) = kind(
        "RUN --network=none --security=insecure --mount=type=bind,from=build,source=/a,target=/b,rw \
         --mount=type=cache,id=c,dst=/c,sharing=LOCKED,mode=0700,uid=1,gid=2 \
         --mount=type=tmpfs,destination=/t,size=64m \
         --mount=target=/d,src=x,readonly=false \
         --mount=type=secret,id=s,required \
         --mount=type=ssh,required=true echo",
    ) else {
        panic!()
    };
    assert_eq!(r.network.as_deref(), Some("none"));
    assert_eq!(r.security.as_deref(), Some("insecure"));
    let m = &r.mounts;
    assert_eq!(m.len(), 6);
    assert_eq!(
        (m[0].kind, m[0].from.as_deref(), m[0].source.as_deref(), m[0].target.as_str(), m[0].readonly),
        (MountKind::Bind, Some("build"), Some("/a"), "/b", Some(false))
    );
    assert_eq!(
        (m[1].kind, m[1].id.as_deref(), m[1].target.as_str(), m[1].sharing.as_deref()),
        (MountKind::Cache, Some("c"), "/c", Some("locked"))
    );
    assert_eq!((m[1].mode.as_deref(), m[1].uid, m[1].gid), (Some("0700"), Some(1), Some(2)));
    assert_eq!((m[2].kind, m[2].target.as_str(), m[2].size.as_deref()), (MountKind::Tmpfs, "/t", Some("64m")));
    assert_eq!((m[3].kind, m[3].readonly, m[3].source.as_deref()), (MountKind::Bind, Some(false), Some("x")));
    assert_eq!((m[4].kind, m[4].required), (MountKind::Secret, Some(true)));
    assert_eq!((m[5].kind, m[5].required), (MountKind::Ssh, Some(true)));
    assert_eq!(r.command, Command::Shell("echo".into()));
    // Quoted CSV fields.
    let Kind::Run(r) = kind("RUN --mount='type=bind,\"target=/a,b\"' x") else { panic!() };
    assert_eq!(r.mounts[0].target, "/a,b");

    for (flag, message) in [
        ("--network=bridge", "invalid network mode \"bridge\""),
        ("--security=x", "security \"x\" is not valid"),
        ("--mount=type=nfs,target=/a", "unsupported mount type \"nfs\""),
        ("--mount=type=cache", "mount type cache requires a target"),
        ("--mount=target=/a,foo=1", "unexpected key 'foo' in 'foo=1'"),
        ("--mount=target=/a,bar", "invalid field 'bar' must be a key=value pair"),
        ("--mount=target=/a,ro=maybe", "invalid value for ro: maybe"),
        ("--mount=target=/a,uid=1", "uid not allowed for \"bind\" type mounts"),
        ("--mount=type=tmpfs,target=/a,mode=0700", "mode not allowed for \"tmpfs\" type mounts"),
        ("--mount=type=cache,target=/a,uid=-1", "invalid value -1 for uid"),
        ("--mount=type=cache,target=/a,mode=9", "invalid value 9 for mode"),
        ("--mount=type=cache,target=/a,size=1m", "unexpected key 'size' for mount type 'cache'"),
        ("--mount=type=tmpfs,target=/a,size=lots", "invalid value for size: lots"),
        ("--mount=target=/a,sharing=private", "invalid cache sharing set for bind mount"),
        ("--mount=type=cache,target=/a,sharing=x", "unsupported sharing value \"x\""),
        ("--mount=target=/a,required", "unexpected key 'required' for mount type 'bind'"),
        ("--mount=type=secret,from=x,id=a", "secret mount should not have a from"),
        ("--mount=type=secret", "invalid secret mount. one of source, target required"),
        ("--mount=type=secret,src=a,id=b", "both source and id can't be set"),
        ("--mount=target=/a,from=$X/y", "'from' doesn't support variable expansion, define alias stage instead"),
        ("--mount='target=\"/a'", "failed to parse csv mounts: bare \" in non-quoted-field"),
        ("--mount='\"target=/a'", "failed to parse csv mounts: extraneous or missing \" in quoted-field"),
        ("--device=x", "unknown flag: --device"),
    ] {
        assert_eq!(kind_err(&format!("RUN {flag} echo")), message, "{flag}");
    }
    assert_eq!(kind_err("RUN"), "RUN requires at least one argument");
    assert_eq!(kind_err("RUN --network=none"), "RUN requires at least one argument");
    let Kind::Run(r) = kind("RUN --network=host [\"a\"]") else { panic!() };
    assert_eq!(r.command, Command::Exec(vec!["a".into()]));
}

#[test]
fn healthcheck() {
    assert_eq!(kind("HEALTHCHECK NONE"), Kind::Healthcheck(Healthcheck::None));
    assert_eq!(kind("HEALTHCHECK none"), Kind::Healthcheck(Healthcheck::None));
    assert_eq!(
        kind(
            "HEALTHCHECK --interval=5s --timeout=3s --start-period=1m30s --start-interval=500ms --retries=3 \\\n  CMD /check --quiet"
        ),
        Kind::Healthcheck(Healthcheck::Check {
            command: Command::Shell("/check --quiet".into()),
            interval: Some("5s".into()),
            timeout: Some("3s".into()),
            start_period: Some("1m30s".into()),
            start_interval: Some("500ms".into()),
            retries: Some(3),
        })
    );
    let Kind::Healthcheck(Healthcheck::Check { command, interval, .. }) =
        kind("HEALTHCHECK --interval=0s CMD [\"a\", \"b\"]")
    else {
        panic!()
    };
    assert_eq!((command, interval), (Command::Exec(vec!["a".into(), "b".into()]), Some("0s".into())));
    assert_eq!(kind_err("HEALTHCHECK"), "HEALTHCHECK requires at least one argument");
    assert_eq!(kind_err("HEALTHCHECK CMD"), "Missing command after HEALTHCHECK CMD");
    assert_eq!(kind_err("HEALTHCHECK NONE x"), "HEALTHCHECK NONE takes no arguments");
    assert_eq!(kind_err("HEALTHCHECK CONNECT TCP 7000"), "Unknown type \"CONNECT\" in HEALTHCHECK (try CMD)");
    assert_eq!(kind_err("HEALTHCHECK --retries=-1 CMD a"), "--retries cannot be negative (-1)");
    assert_eq!(kind_err("HEALTHCHECK --interval=1us CMD a"), "Interval \"interval\" cannot be less than 1ms");
    assert_eq!(kind_err("HEALTHCHECK --timeout=5 CMD a"), "time: missing unit in duration \"5\"");
    assert_eq!(kind_err("HEALTHCHECK --timeout=5x CMD a"), "time: unknown unit \"x\" in duration \"5x\"");
    assert_eq!(kind_err("HEALTHCHECK --foo=1 CMD a"), "unknown flag: --foo");
}

#[test]
fn go_durations() {
    assert_eq!(go_duration("1h30m"), Ok(5_400_000_000_000));
    assert_eq!(go_duration("1.5s"), Ok(1_500_000_000));
    assert_eq!(go_duration("-2ms"), Ok(-2_000_000));
    assert_eq!(go_duration("0"), Ok(0));
    assert_eq!(go_duration("300µs"), Ok(300_000));
    for bad in ["", "s", "1", ".s", "1..2s", "1ss", "99999999999999h"] {
        assert!(go_duration(bad).is_err(), "{bad}");
    }
}

#[test]
fn onbuild() {
    let ins = only("FROM a\nONBUILD RUN echo hi\n");
    assert_eq!(ins.source.original, "ONBUILD RUN echo hi");
    let Kind::Onbuild(t) = ins.kind else { panic!() };
    assert_eq!(t.source, Source { line: 2, original: "RUN echo hi".into() });
    assert!(matches!(t.kind, Kind::Run(_)));
    let Kind::Onbuild(t) = kind("onbuild copy --chown=1 a b") else { panic!() };
    assert_eq!(t.source.original, "copy --chown=1 a b");
    assert_eq!(kind_err("ONBUILD ONBUILD RUN x"), "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed");
    assert_eq!(kind_err("ONBUILD FROM x"), "FROM isn't allowed as an ONBUILD trigger");
    assert_eq!(kind_err("ONBUILD maintainer x"), "MAINTAINER isn't allowed as an ONBUILD trigger");
    assert_eq!(kind_err("ONBUILD"), "ONBUILD requires at least one argument");
    assert_eq!(kind_err("ONBUILD BOGUS x"), "unknown instruction: BOGUS");
    let Kind::Onbuild(t) = kind("ONBUILD RUN <<EOF\necho $X\nEOF") else { panic!() };
    let Kind::Run(r) = t.kind else { panic!() };
    assert_eq!(r.heredocs[0].content, "echo $X\n");
    // Deep chains are refused before any recursion.
    let deep = "ONBUILD ".repeat(100_000) + "RUN x";
    assert!(kind_err(&deep).contains("Chaining ONBUILD"));
}

#[test]
fn heredocs_as_buildkit() {
    let text = "
FROM alpine:3.6

ENV NAME=me

RUN ls

USER <<INVALID
INVALID

RUN <<EMPTY
EMPTY

RUN 3<<EMPTY2
EMPTY2

RUN \"<<NOHEREDOC\"

RUN <<INDENT
\tfoo
\tbar
INDENT

RUN <<-UNINDENT
\tbaz
\tquux
UNINDENT

RUN <<-UNINDENT2
\tbaz
\tquux
\tUNINDENT2

RUN <<-EXPAND
\texpand $NAME
EXPAND

RUN <<-'NOEXPAND'
\tdon't expand $NAME
NOEXPAND

RUN <<COPY
echo hello world
echo foo bar
COPY

RUN <<COMMENT
# internal comment
echo hello world
echo foo bar # trailing comment
COMMENT

RUN --mount=type=cache,target=/foo <<MOUNT
echo hello
MOUNT

COPY <<FILE1 <<FILE2 /dest
content 1
FILE1
content 2
FILE2

COPY <<EOF /quotes
\"foo\"
'bar'
EOF

COPY <<X <<Y /dest
Y
X
X
Y

RUN <<COMPLEX python3
print('hello world')
COMPLEX

COPY <<file.txt /dest
hello world
file.txt

RUN <<eo'f'
echo foo
eof

RUN <<eo\\'f
echo foo
eo'f

RUN <<'e'o\\'f
echo foo
eo'f

RUN <<'one two'
echo bar
one two

RUN <<$EOF
$EOF

RUN <<  EOF
EOF

RUN <<  EOF  > foo
EOF
\t";
    let h = |name: &str, content: &str, expand: bool, chomp: bool| Heredoc {
        name: name.into(),
        content: content.into(),
        expand,
        chomp,
    };
    let expected: Vec<Vec<Heredoc>> = vec![
        vec![],
        vec![],
        vec![],
        vec![],
        vec![h("EMPTY", "", true, false)],
        vec![h("EMPTY2", "", true, false)],
        vec![],
        vec![h("INDENT", "\tfoo\n\tbar\n", true, false)],
        vec![h("UNINDENT", "baz\nquux\n", true, true)],
        vec![h("UNINDENT2", "baz\nquux\n", true, true)],
        vec![h("EXPAND", "expand $NAME\n", true, true)],
        vec![h("NOEXPAND", "don't expand $NAME\n", false, true)],
        vec![h("COPY", "echo hello world\necho foo bar\n", true, false)],
        vec![h("COMMENT", "# internal comment\necho hello world\necho foo bar # trailing comment\n", true, false)],
        vec![h("MOUNT", "echo hello\n", true, false)],
        vec![h("FILE1", "content 1\n", true, false), h("FILE2", "content 2\n", true, false)],
        vec![h("EOF", "\"foo\"\n'bar'\n", true, false)],
        vec![h("X", "Y\n", true, false), h("Y", "X\n", true, false)],
        vec![h("COMPLEX", "print('hello world')\n", true, false)],
        vec![h("file.txt", "hello world\n", true, false)],
        vec![h("eof", "echo foo\n", false, false)],
        vec![h("eo'f", "echo foo\n", true, false)],
        vec![h("eo'f", "echo foo\n", false, false)],
        vec![h("one two", "echo bar\n", false, false)],
        vec![h("$EOF", "", true, false)],
        vec![h("EOF", "", true, false)],
        vec![h("EOF", "", true, false)],
    ];
    let raw = parse_raw(text).unwrap();
    assert_eq!(raw.nodes.len(), expected.len() + 1);
    for (i, want) in expected.iter().enumerate() {
        assert_eq!(&raw.nodes[i + 1].heredocs, want, "node {}", i + 1);
    }
    // USER <<INVALID is no heredoc: INVALID is then an (unknown) instruction.
    assert_eq!(err(text).message, "unknown instruction: INVALID");
}

#[test]
fn heredoc_typed() {
    let df = parse(
        "FROM a\nRUN python3 <<EOF\nprint(1)\nEOF\nCOPY <<a.txt <<\"b\" /d/\nA $X\na.txt\nB\nb\nRUN [\"<<EOF\"]\n",
    )
    .unwrap();
    let ins = &df.stages[0].instructions;
    let Kind::Run(r) = &ins[0].kind else { panic!() };
    assert_eq!(r.command, Command::Shell("python3 <<EOF".into()));
    assert_eq!(r.heredocs[0].content, "print(1)\n");
    assert_eq!(ins[0].source.original, "RUN python3 <<EOF");
    let Kind::Copy(c) = &ins[1].kind else { panic!() };
    assert_eq!(c.sources, vec!["<<a.txt", "<<\"b\""]);
    assert_eq!(c.dest, "/d/");
    assert_eq!(c.heredocs.len(), 2);
    assert_eq!(
        (c.heredocs[0].name.as_str(), c.heredocs[0].content.as_str(), c.heredocs[0].expand),
        ("a.txt", "A $X\n", true)
    );
    assert_eq!(
        (c.heredocs[1].name.as_str(), c.heredocs[1].content.as_str(), c.heredocs[1].expand),
        ("b", "B\n", false)
    );
    assert_eq!(ins[2].source.line, 10);
    let Kind::Run(r) = &ins[2].kind else { panic!() };
    assert!(r.heredocs.is_empty());
    assert_eq!(kind_err("COPY a <<EOF\nx\nEOF"), "COPY cannot accept a heredoc as a destination");
    let e = err("FROM a\nRUN <<EOF\nnever ends\n");
    assert_eq!((e.line, e.message.as_str()), (2, "unterminated heredoc"));
    // The escape directive does not change heredoc bodies or words.
    let df = parse("# escape=`\nFROM a\nRUN <<EOF\nc:\\x `\nEOF\n").unwrap();
    let Kind::Run(r) = &df.stages[0].instructions[0].kind else { panic!() };
    assert_eq!(r.heredocs[0].content, "c:\\x `\n");
}

#[test]
fn heredoc_words_as_buildkit() {
    for ok in ["<<EOF", "<<'EOF'", "<<\"EOF\"", "<<-EOF", "<<-'EOF'", "<<-\"EOF\"", "<<EO\"F\"", "<< EOF", "<<- EOF"] {
        assert_eq!(parse_heredoc(ok).unwrap().unwrap().name, "EOF", "{ok}");
    }
    for bad in ["<<'EOF", "<<\"EOF", "<<EOF'", "<<EOF\""] {
        assert!(parse_heredoc(bad).is_err(), "{bad}");
    }
    for not in ["", "EOF", "<<", "<<-", "<EOF", "<<<EOF", "<<EOF sh"] {
        assert!(parse_heredoc(not).unwrap().is_none(), "{not}");
    }
    let names = |line: &str| -> Vec<String> { heredocs_from_line(line).unwrap().into_iter().map(|h| h.name).collect() };
    // The line's words split `<<- EOF`, `<< -EOF` (BuildKit's own table checks
    // these vacuously).
    assert_eq!(names("RUN <<- EOF"), Vec::<String>::new());
    assert_eq!(names("RUN << EOF"), vec!["EOF"]);
    assert_eq!(names("RUN <<'EOF'"), vec!["EOF"]);
    assert_eq!(names("RUN <<EOF1 <<EOF2"), vec!["EOF1", "EOF2"]);
    assert_eq!(names("RUN <<EOF 3<<EOF2 4<<EOF3"), vec!["EOF", "EOF2", "EOF3"]);
    assert_eq!(names("RUN echo \"<<EOF\""), Vec::<String>::new());
}

#[test]
fn mount_size_units() {
    assert_eq!(ram_in_bytes("64m"), Some(64 << 20));
    assert_eq!(ram_in_bytes("1GiB"), Some(1 << 30));
    assert_eq!(ram_in_bytes("512"), Some(512));
    assert_eq!(ram_in_bytes("1.5k"), Some(1536));
    assert_eq!(ram_in_bytes("x"), None);
    assert_eq!(ram_in_bytes("1q"), None);
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(512))]

    /// Hostile Dockerfiles: made of the characters that matter to the grammar.
    #[test]
    fn parser_never_panics(s in "(FROM a|RUN |COPY |ONBUILD |ENV |HEALTHCHECK |--mount=|<<-?E|E\n|[\\[\\]\"'`\\\\ \t\n#=,$<{}:a-c-]){0,60}") {
        let _ = parse(&s);
        let _ = parse(&format!("FROM a\n{s}"));
        let _ = parse(&format!("# escape=`\nFROM a\n{s}"));
    }

    #[test]
    fn parser_never_panics_on_any_text(s in "\\PC{0,400}") {
        let _ = parse(&s);
        let _ = parse(&format!("FROM a\n{s}"));
    }
}

#[test]
fn large_inputs_stay_linear() {
    // Many continuation lines, many heredocs, many instructions: no quadratic blow-up
    // that would make this slow (bounded sizes; no timing assertion).
    let mut text = String::from("FROM a\nRUN x \\\n");
    text.push_str(&"  y \\\n".repeat(20_000));
    text.push_str("  z\n");
    text.push_str(&"RUN <<E\nbody\nE\n".repeat(5_000));
    text.push_str(&"ENV a=b c=d\n".repeat(5_000));
    let df = parse(&text).unwrap();
    assert_eq!(df.stages[0].instructions.len(), 10_001);
}

/// BuildKit's `instructions/parse_test.go` tables.
#[test]
fn buildkit_instruction_tables() {
    for cmd in ["MAINTAINER", "WORKDIR", "USER", "STOPSIGNAL"] {
        assert_eq!(kind_err(cmd), format!("{cmd} requires exactly one argument"));
    }
    for cmd in ["ENV", "LABEL", "ONBUILD", "HEALTHCHECK", "EXPOSE", "VOLUME"] {
        assert_eq!(kind_err(cmd), format!("{cmd} requires at least one argument"));
    }
    for cmd in ["ADD", "COPY"] {
        assert_eq!(
            kind_err(&format!("{cmd} arg1")),
            format!(
                "{cmd} requires at least two arguments, but only one was provided. Destination could not be determined"
            )
        );
    }
    for (text, message) in [
        ("COPY\t", "COPY requires at least two arguments"),
        ("ONBUILD FROM scratch", "FROM isn't allowed as an ONBUILD trigger"),
        ("MAINTAINER --boo joe@example.com", "unknown flag: --boo"),
        ("ONBUILD ONBUILD RUN touch foobar", "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed"),
        ("FOO bar", "unknown instruction: FOO"),
        ("foo bar", "unknown instruction: foo"),
        ("COPY /foo <<EOF\nEOF", "COPY cannot accept a heredoc as a destination"),
        ("HEALTHCHECK --interval=50ns CMD x", "cannot be less than 1ms"),
    ] {
        assert!(kind_err(text).contains(message), "{text:?}: {}", kind_err(text));
    }
    assert!(matches!(kind("HEALTHCHECK --interval=0ms CMD x"), Kind::Healthcheck(_)));
    assert!(matches!(kind("HEALTHCHECK --interval=1ms CMD x"), Kind::Healthcheck(_)));
    // TestNilLinter's inputs: every instruction with odd arguments parses or fails
    // cleanly.
    for cmd in [
        "add",
        "arg",
        "cmd",
        "copy",
        "entrypoint",
        "env",
        "expose",
        "from",
        "healthcheck",
        "label",
        "maintainer",
        "onbuild",
        "run",
        "shell",
        "stopsignal",
        "user",
        "volume",
        "workdir",
    ] {
        for tail in [" foo=bar", " a", " a b", " a b c", " 0 0"] {
            let _ = parse(&format!("FROM busybox\n{cmd}{tail}"));
        }
    }
}

#[test]
fn onbuild_triggers_round_trip() {
    let df =
        parse("FROM a\nONBUILD RUN echo hi\nONBUILD COPY <<-EOF /x\n\tbody $A\nEOF\nONBUILD ENV A=\"b c\"\n").unwrap();
    let triggers: Vec<String> = df.stages[0]
        .instructions
        .iter()
        .map(|i| match &i.kind {
            Kind::Onbuild(t) => onbuild_expression(t),
            _ => panic!(),
        })
        .collect();
    assert_eq!(triggers, vec!["RUN echo hi", "COPY <<-EOF /x\nbody $A\nEOF", "ENV A=\"b c\""]);
    for (text, ins) in triggers.iter().zip(&df.stages[0].instructions) {
        let Kind::Onbuild(t) = &ins.kind else { panic!() };
        let back = parse_trigger(text).unwrap();
        assert_eq!(back.kind, t.kind, "{text}");
    }
    assert_eq!(parse_trigger("FROM x").unwrap_err().message, "FROM isn't allowed as an ONBUILD trigger");
    assert!(parse_trigger("RUN a\nRUN b").is_err());
    assert!(parse_trigger("").is_err());
}

#[test]
fn heredoc_runs_as_buildkit() {
    let run = |text: &str| match kind(text) {
        Kind::Run(r) => r,
        _ => panic!(),
    };
    assert_eq!(heredoc_run(&run("RUN echo hi")), None);
    assert_eq!(heredoc_run(&run("RUN <<EOF\necho $A\nEOF")), Some(HeredocRun::Shell("echo $A\n".into())));
    assert_eq!(
        heredoc_run(&run("RUN <<-'S'\n\t#!/usr/bin/env python3\n\tprint(1)\nS")),
        Some(HeredocRun::Script { name: "S", content: "#!/usr/bin/env python3\nprint(1)\n" })
    );
    assert_eq!(
        heredoc_run(&run("RUN python3 - <<EOF a\nprint(1)\nEOF")),
        Some(HeredocRun::Shell("python3 - <<EOF a\nprint(1)\nEOF".into()))
    );
    assert_eq!(
        heredoc_run(&run("RUN cat <<A <<B\n1\nA\n2\nB")),
        Some(HeredocRun::Shell("cat <<A <<B\n1\nA\n2\nB".into()))
    );
}
