//! Docker parity: templates. `--format` and `inspect -f` are Go's text/template with
//! Docker's functions; `table` formats print Docker's headers, tab-aligned; errors exit
//! 125 with Go's position. Also `ps`/`inspect` ports and the `host`/`none` networks.

use lindocker_testkit::{Engine, temp_dir};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_lindocker");

fn f(engine: &Engine, template: &str, name: &str) -> String {
    engine.ok(&["inspect", "-f", template, name])
}

/// Every action, pipeline and function through `inspect -f` on a real container.
#[test]
fn inspect_templates() {
    let engine = Engine::with_busybox(BIN, "tpl-inspect");
    let dir = temp_dir("tpl-inspect-bind");
    let bind = format!("{}:/data", dir.display());
    let id = engine
        .ok(&[
            "create",
            "--name",
            "web",
            "-v",
            &bind,
            "--label",
            "team=core",
            "-e",
            "X=1",
            "localhost/busybox",
            "echo",
            "a",
            "b",
        ])
        .trim()
        .to_owned();
    let d = dir.display();
    assert_eq!(f(&engine, "{{range .Mounts}}{{.Source}}:{{.Destination}}{{end}}", "web"), format!("{d}:/data\n"));
    assert_eq!(f(&engine, "{{range $i, $m := .Mounts}}{{$i}}={{$m.Type}}{{else}}none{{end}}", "web"), "0=bind\n");
    assert_eq!(
        f(
            &engine,
            r#"{{if eq .State.Status "running"}}up{{else if eq .State.Status "created"}}new{{else}}old{{end}}"#,
            "web"
        ),
        "new\n"
    );
    assert_eq!(
        f(&engine, r#"{{index .Config.Labels "team"}}|{{.Config.Labels.team}}|{{.Config.Labels}}"#, "web"),
        "core|core|map[team:core]\n"
    );
    assert_eq!(f(&engine, r#"{{range .Config.Env}}{{if eq . "X=1"}}found{{end}}{{end}}"#, "web"), "found\n");
    assert_eq!(f(&engine, r#"{{.Path}}:{{join .Args ","}}:{{len .Args}}"#, "web"), "echo:a,b:2\n");
    assert_eq!(f(&engine, "{{upper .Name}} {{lower \"ABC\"}} {{title \"web app\"}}", "web"), "/WEB abc Web App\n");
    assert_eq!(
        f(&engine, r#"{{printf "%.12s|%5d|%-3s|%q" .Id 42 "x" "y"}}"#, "web"),
        format!("{}|   42|x  |\"y\"\n", &id[..12])
    );
    assert_eq!(f(&engine, "{{json .Config.Labels}} {{json .Args}}", "web"), "{\"team\":\"core\"} [\"a\",\"b\"]\n");
    assert_eq!(
        f(&engine, "{{with .State}}{{.Status}}{{end}}{{with .Config.Labels.nope}}x{{else}}-{{end}}", "web"),
        "created-\n"
    );
    assert_eq!(f(&engine, "{{$n := .Name}}{{range .Mounts}}{{$n}}{{$.Name}}{{end}}", "web"), "/web/web\n");
    assert_eq!(f(&engine, "a {{- /* a comment */ -}} b {{- .State.Status -}} c", "web"), "abcreatedc\n");
    assert_eq!(f(&engine, "{{.HostConfig.Binds}}", "web"), format!("[{d}:/data]\n"));
    assert_eq!(
        f(&engine, r#"{{truncate .Id 5}}|{{pad "x" 1 2}}|{{split "a:b" ":"}}|{{slice .Id 0 3}}"#, "web"),
        format!("{}| x  |[a b]|{}\n", &id[..5], &id[..3])
    );
    assert_eq!(
        f(&engine, r#"{{.Name | printf "%s!" | upper}} {{(index .Mounts 0).Type}} {{not .State.Running}}"#, "web"),
        "/WEB! bind true\n"
    );
    assert_eq!(
        f(
            &engine,
            r#"{{and .State.Running "x"}}|{{or .State.Running "y"}}|{{html "<a>"}}|{{urlquery "a b"}}|{{js "'"}}"#,
            "web"
        ),
        "false|y|&lt;a&gt;|a+b|\\'\n"
    );
    assert_eq!(
        f(&engine, "{{lt 1 2}} {{ge .State.ExitCode 0}} {{ne .Name \"/x\"}} {{print 1 2 \"s\"}}", "web"),
        "true true true 1 2s\n"
    );
    // Fields of Docker's types that are nil print as Go prints them, not `<no value>`.
    assert_eq!(
        f(
            &engine,
            "{{.State.Health}}|{{.Config.Volumes}}|{{.HostConfig.Tmpfs}}|{{.HostConfig.DnsSearch}}|{{json .HostConfig.Tmpfs}}",
            "web"
        ),
        "<nil>|map[]|map[]|[]|null\n"
    );
    // One line per object.
    assert_eq!(engine.ok(&["inspect", "-f", "{{.Name}}", "web", "web"]), "/web\n/web\n");
}

/// A template error exits 125 with Go's message and position, and prints nothing.
#[test]
fn template_errors() {
    let engine = Engine::with_busybox(BIN, "tpl-errors");
    engine.ok(&["create", "--name", "web", "localhost/busybox", "true"]);
    for (template, message) in [
        ("{{.Nope}}", r#"template: :1:2: executing "" at <.Nope>: map has no entry for key "Nope""#),
        ("{{.State.Nope.X}}", r#"template: :1:8: executing "" at <.State.Nope.X>: map has no entry for key "Nope""#),
        ("{{.State.Status", "template: :1: unclosed action"),
        (
            "{{.State.Health.Status}}",
            r#"template: :1:8: executing "" at <.State.Health.Status>: map has no entry for key "Health""#,
        ),
        ("{{nope .Id}}", r#"template: :1: function "nope" not defined"#),
        ("{{if .Id}}x", "template: :1: unexpected EOF"),
        (
            "x\n{{index .Args 3}}",
            r#"template: :2:2: executing "" at <index .Args 3>: error calling index: index out of range: 3"#,
        ),
        (
            "{{upper .State.Pid}}",
            r#"template: :1:2: executing "" at <upper>: wrong type for value; expected string; got int"#,
        ),
    ] {
        let out = engine.run(&["inspect", "-f", template, "web"]);
        assert_eq!(out.status.code(), Some(125), "{template}: {out:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(message), "{template}: {stderr}");
        assert!(out.stdout.is_empty(), "{template}: {out:?}");
    }
    let err = engine.fails(&["ps", "-a", "--format", "{{.Nope}}"], 125);
    assert!(err.contains(r#"at <.Nope>: map has no entry for key "Nope""#), "{err}");
    engine.fails(&["ps", "-a", "--format", "table {{.Names"], 125);
    engine.fails(&["images", "--format", "{{.Repository"], 125);
}

/// `ps --format`: tables with Docker's headers, per-row templates, JSON; published
/// ports the same everywhere, and `inspect` shows them as Docker's port maps.
#[test]
fn ps_formats_and_ports() {
    let engine = Engine::with_busybox(BIN, "tpl-ps");
    engine.ok(&[
        "run",
        "-d",
        "--name",
        "web",
        "-p",
        "8080:80",
        "--label",
        "team=core",
        "localhost/busybox",
        "sleep",
        "1000",
    ]);
    assert_eq!(
        engine.ok(&["ps", "--format", r"table {{.Names}}\t{{.Ports}}"]),
        "NAMES     PORTS\nweb       0.0.0.0:8080->80/tcp, [::]:8080->80/tcp\n"
    );
    assert_eq!(
        engine.ok(&[
            "ps",
            "--format",
            r#"{{.Names}} {{.Label "team"}} {{.Labels}} {{.State}} {{.Networks}} {{.Image}}"#
        ]),
        "web core team=core running bridge localhost/busybox\n"
    );
    assert!(engine.ok(&["ps", "--format", "{{.Status}}|{{.RunningFor}}|{{.Command}}"]).starts_with("Up "));
    let header = engine.ok(&["ps"]);
    assert!(header.starts_with("CONTAINER ID   IMAGE               COMMAND"), "{header}");
    let line = engine.ok(&["ps", "--format", "json"]);
    assert_eq!(line.lines().count(), 1, "{line}");
    let row: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(row["Ports"], "0.0.0.0:8080->80/tcp, [::]:8080->80/tcp", "{row}");
    assert_eq!(row["Names"], "web");
    assert_eq!(row["Labels"], "team=core");
    for key in ["ID", "Image", "Command", "CreatedAt", "RunningFor", "State", "Status", "Size", "Mounts", "Networks"] {
        assert!(row.get(key).is_some(), "{key} missing: {row}");
    }
    assert_eq!(
        f(&engine, "{{json .HostConfig.PortBindings}}", "web"),
        "{\"80/tcp\":[{\"HostIp\":\"\",\"HostPort\":\"8080\"}]}\n"
    );
    assert_eq!(
        f(&engine, "{{json .NetworkSettings.Ports}}", "web"),
        "{\"80/tcp\":[{\"HostIp\":\"0.0.0.0\",\"HostPort\":\"8080\"},{\"HostIp\":\"::\",\"HostPort\":\"8080\"}]}\n"
    );
    assert_eq!(
        f(&engine, "{{range $p, $b := .NetworkSettings.Ports}}{{$p}}={{(index $b 0).HostPort}}{{end}}", "web"),
        "80/tcp=8080\n"
    );
    assert_eq!(f(&engine, "{{.HostConfig.PortBindings}}", "web"), "map[80/tcp:[{ 8080}]]\n");
    let full: Value = serde_json::from_str(&engine.ok(&["inspect", "web"])).unwrap();
    assert_eq!(full[0]["HostConfig"]["PortBindings"]["80/tcp"][0]["HostPort"], "8080");
    // `stats`, `info` and `version` take templates too.
    assert_eq!(
        engine.ok(&["stats", "--no-stream", "--format", r"table {{.Name}}\t{{.Container}}", "web"]),
        "NAME      CONTAINER\nweb       web\n"
    );
    assert_eq!(
        engine.ok(&["info", "--format", "{{.ContainersRunning}}/{{.Containers}} {{.Driver}} {{.OSType}}"]),
        "1/1 overlay linux\n"
    );
    let version = engine.ok(&["version", "--format", "{{.Server.Version}}|{{.Client.Version}}|{{json .Client.Os}}"]);
    let parts: Vec<&str> = version.trim_end().split('|').collect();
    assert!(!parts[0].is_empty() && parts[0] == parts[1] && parts[2] == "\"linux\"", "{version}");
    engine.ok(&["rm", "-f", "web"]);
}

/// `images`, `network ls`, `volume ls` and their `inspect -f`; `host` and `none` are
/// networks like Docker's.
#[test]
fn listings_and_predefined_networks() {
    let engine = Engine::with_busybox(BIN, "tpl-lists");
    assert_eq!(engine.ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"]), "localhost/busybox:latest\n");
    assert_eq!(
        engine.ok(&["images", "--format", r"table {{.Repository}}\t{{.Tag}}"]),
        "REPOSITORY          TAG\nlocalhost/busybox   latest\n"
    );
    let image: Value = serde_json::from_str(&engine.ok(&["images", "--format", "json"])).unwrap();
    assert_eq!(image["Repository"], "localhost/busybox");
    assert_eq!(
        engine.ok(&[
            "image",
            "inspect",
            "-f",
            "{{index .RepoTags 0}} {{.Config.Labels}} {{.Config.Cmd}}",
            "localhost/busybox"
        ]),
        "localhost/busybox:latest map[] [sh]\n"
    );

    engine.ok(&["volume", "create", "--label", "a=b", "data"]);
    assert_eq!(
        engine.ok(&["volume", "ls", "--format", r#"{{.Name}} {{.Driver}} {{.Label "a"}} {{.Scope}}"#]),
        "data local b local\n"
    );
    assert_eq!(
        engine.ok(&["volume", "ls", "--format", r"table {{.Name}}\t{{.Driver}}"]),
        "VOLUME NAME   DRIVER\ndata          local\n"
    );
    assert_eq!(engine.ok(&["volume", "ls"]), "DRIVER    VOLUME NAME\nlocal     data\n");
    assert_eq!(engine.ok(&["volume", "inspect", "-f", "{{.Labels.a}} {{.Driver}}", "data"]), "b local\n");

    let names = engine.ok(&["network", "ls", "--format", "{{.Name}} {{.Driver}} {{.Scope}}"]);
    assert!(names.contains("host host local\n") && names.contains("none null local\n"), "{names}");
    let table = engine.ok(&["network", "ls"]);
    assert!(table.starts_with("NETWORK ID     NAME      DRIVER    SCOPE\n"), "{table}");
    assert!(table.lines().any(|l| l.ends_with("   none      null      local")), "{table}");
    assert_eq!(
        engine.ok(&["network", "inspect", "-f", "{{.Name}} {{.Driver}} {{len .IPAM.Config}}", "host", "none"]),
        "host host 0\nnone null 0\n"
    );
    engine.ok(&["create", "--network", "none", "--name", "quiet", "localhost/busybox", "true"]);
    assert_eq!(engine.ok(&["network", "inspect", "-f", "{{range .Containers}}{{.Name}}{{end}}", "none"]), "quiet\n");
    assert_eq!(engine.ok(&["run", "--rm", "--network", "none", "localhost/busybox", "ls", "/sys/class/net"]), "lo\n");
    let df = engine.ok(&["system", "df", "--format", "{{.Type}}={{.TotalCount}}/{{.Active}}"]);
    assert_eq!(df, "Images=1/1\nContainers=1/0\nLocal Volumes=1/0\n");
    assert!(engine.ok(&["system", "df"]).starts_with("TYPE            TOTAL     ACTIVE    SIZE      RECLAIMABLE\n"));
    // `--network host` is the (fake) host's own network namespace.
    let host_ns = std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(engine.netns.as_ref().unwrap()).unwrap());
    let seen = engine.ok(&["run", "--rm", "--network", "host", "localhost/busybox", "readlink", "/proc/self/ns/net"]);
    assert_eq!(seen, format!("net:[{host_ns}]\n"));
    engine.ok(&["create", "--network", "host", "--name", "shared", "localhost/busybox", "true"]);
    assert_eq!(
        engine.ok(&["network", "inspect", "-f", "{{range $id, $c := .Containers}}{{$c.Name}}{{end}}", "host"]),
        "shared\n"
    );
    assert_eq!(engine.ok(&["ps", "-a", "--format", "{{.Names}}:{{.Networks}}"]), "shared:host\nquiet:none\n");
    engine.ok(&["rm", "shared"]);
    let err = engine.fails(&["network", "rm", "host"], 1);
    assert!(err.contains("pre-defined network"), "{err}");
    assert!(engine.ok(&["network", "ls", "-q"]).lines().count() >= 2);
}

/// A user network's name wins over a predefined network's id prefix (Docker resolves
/// an exact name first, then a full id, then an id prefix): `7` is the user's network,
/// though `host`'s id starts with 7.
#[test]
fn a_networks_name_wins_over_a_predefined_id_prefix() {
    let engine = Engine::with_busybox(BIN, "tpl-netname");
    let id = engine.ok(&["network", "create", "7"]).trim().to_owned();
    assert_eq!(engine.ok(&["network", "inspect", "-f", "{{.Name}} {{.Id}}", "7"]), format!("7 {id}\n"));
    assert_eq!(engine.ok(&["network", "inspect", "-f", "{{.Name}}", "7318718f"]), "host\n");
    assert_eq!(engine.ok(&["network", "rm", "7"]), "7\n");
    assert!(!engine.ok(&["network", "ls", "--format", "{{.Name}}"]).lines().any(|l| l == "7"));
    // Without such a network the prefix names `host` again.
    let err = engine.fails(&["network", "rm", "7"], 1);
    assert!(err.contains("pre-defined network"), "{err}");
}
