//! Docker parity: commands. The management forms (`container run`, `image ls`, ...),
//! `history`, `port CONTAINER [PORT[/PROTO]]`, `stats` with NET I/O and BLOCK I/O,
//! streaming and `--format`.

use std::fs;
use std::io::Read;
use std::process::Stdio;
use std::time::Duration;

use lindocker_testkit::Engine;
use lindocker_testkit::image::{self, Entry};
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_lindocker");

fn clean(engine: &Engine) {
    let left = engine.leftovers();
    assert!(left.is_empty(), "left behind: {left:?}");
}

/// Every container command Docker documents under `docker container`, each run in its
/// management form, doing what the top-level one does.
#[test]
fn container_management_forms() {
    let engine = Engine::with_busybox(BIN, "mgmt-c");
    let id =
        engine.ok(&["container", "run", "-d", "--name", "mc", "-p", "8081:80", "localhost/busybox", "sleep", "1000"]);
    let id = id.trim();
    assert_eq!(id.len(), 64, "{id}");
    for ls in ["ls", "list", "ps"] {
        let out = engine.ok(&["container", ls]);
        assert!(out.starts_with("CONTAINER ID"), "container {ls}: {out}");
        assert!(out.lines().any(|l| l.ends_with(" mc")), "container {ls}: {out}");
    }
    assert_eq!(engine.ok(&["container", "inspect", "-f", "{{.State.Status}}", "mc"]), "running\n");
    assert_eq!(engine.ok(&["container", "exec", "mc", "echo", "in", "mc"]), "in mc\n");
    assert!(engine.ok(&["container", "top", "mc"]).contains("sleep"));
    assert_eq!(engine.ok(&["container", "port", "mc"]), "80/tcp -> 0.0.0.0:8081\n80/tcp -> [::]:8081\n");
    let stats = engine.ok(&["container", "stats", "--no-stream", "mc"]);
    assert!(stats.starts_with("CONTAINER ID"), "{stats}");
    engine.ok(&["container", "update", "--cpu-shares", "512", "mc"]);
    assert_eq!(engine.ok(&["container", "inspect", "-f", "{{.HostConfig.CpuShares}}", "mc"]), "512\n");
    assert_eq!(engine.ok(&["container", "pause", "mc"]), "mc\n");
    assert_eq!(engine.ok(&["container", "inspect", "-f", "{{.State.Status}}", "mc"]), "paused\n");
    assert_eq!(engine.ok(&["container", "unpause", "mc"]), "mc\n");
    engine.ok(&["container", "exec", "mc", "sh", "-c", "echo changed > /made"]);
    assert!(engine.ok(&["container", "diff", "mc"]).lines().any(|l| l == "A /made"));
    let copied = engine.root.join("made.txt");
    engine.ok(&["container", "cp", "mc:/made", copied.to_str().unwrap()]);
    assert_eq!(fs::read_to_string(&copied).unwrap(), "changed\n");
    let tar = engine.root.join("mc.tar");
    engine.ok(&["container", "export", "-o", tar.to_str().unwrap(), "mc"]);
    assert!(fs::metadata(&tar).unwrap().len() > 100_000);
    engine.ok(&["container", "commit", "mc", "localhost/mc:1"]);
    assert!(engine.ok(&["image", "ls"]).lines().any(|l| l.starts_with("localhost/mc ")));
    engine.ok(&["container", "rename", "mc", "mc2"]);
    assert_eq!(engine.ok(&["container", "restart", "-t", "1", "mc2"]), "mc2\n");
    assert_eq!(engine.ok(&["container", "kill", "mc2"]), "mc2\n");
    assert_eq!(engine.ok(&["container", "wait", "mc2"]), "137\n");
    assert_eq!(engine.ok(&["container", "start", "mc2"]), "mc2\n");
    assert_eq!(engine.ok(&["container", "stop", "-t", "1", "mc2"]), "mc2\n");
    let created = engine.ok(&["container", "create", "--name", "mk", "localhost/busybox", "echo", "from mk"]);
    assert_eq!(created.trim().len(), 64);
    assert_eq!(engine.ok(&["container", "start", "-a", "mk"]), "from mk\n");
    assert_eq!(engine.ok(&["container", "logs", "mk"]), "from mk\n");
    // `attach` to a stopped container fails as Docker's does (exit 1, not a usage error).
    let err = engine.fails(&["container", "attach", "mk"], 1);
    assert!(err.contains("start it first"), "{err}");
    assert_eq!(engine.ok(&["container", "rm", "mk"]), "mk\n");
    assert_eq!(engine.ok(&["container", "remove", "mc2"]), "mc2\n");
    engine.ok(&["container", "create", "localhost/busybox", "true"]);
    let pruned = engine.ok(&["container", "prune", "-f"]);
    assert!(pruned.starts_with("Deleted Containers:"), "{pruned}");
    assert_eq!(engine.ok(&["container", "ls", "-a", "-q"]), "");
    // A container command's flags are checked as at the top level: exit 125; `run` and
    // `create` fail with 125 when the engine is at fault, as at the top level.
    engine.fails(&["container", "ls", "--nope"], 125);
    let err = engine.fails(&["container", "run", "--rm", "--pull", "never", "localhost/nothere", "true"], 125);
    assert!(err.contains("No such image"), "{err}");
    engine.fails(&["container", "create", "--pull", "never", "localhost/nothere"], 125);
    // `container inspect` looks for containers only.
    let err = engine.fails(&["container", "inspect", "localhost/busybox"], 1);
    assert!(err.contains("No such container"), "{err}");
    engine.ok(&["image", "rm", "localhost/mc:1"]);
    clean(&engine);
}

/// Every image command Docker documents under `docker image`, and `system info/df`.
#[test]
fn image_and_system_management_forms() {
    let engine = Engine::with_busybox(BIN, "mgmt-i");
    for ls in ["ls", "list"] {
        let out = engine.ok(&["image", ls]);
        assert!(out.starts_with("REPOSITORY"), "image {ls}: {out}");
        assert!(out.lines().any(|l| l.starts_with("localhost/busybox ")), "image {ls}: {out}");
    }
    engine.ok(&["image", "tag", "localhost/busybox", "localhost/other:2"]);
    let info: Value = serde_json::from_str(&engine.ok(&["image", "inspect", "localhost/other:2"])).unwrap();
    let id = info[0]["Id"].as_str().unwrap().to_owned();
    let history = engine.ok(&["image", "history", "localhost/other:2"]);
    assert!(history.starts_with("IMAGE"), "{history}");
    assert!(history.contains(&id[7..19]), "{history}");
    let archive = engine.root.join("saved.tar");
    engine.ok(&["image", "save", "-o", archive.to_str().unwrap(), "localhost/other:2"]);
    assert_eq!(engine.ok(&["image", "rm", "localhost/other:2"]), "Untagged: localhost/other:2\n");
    assert!(engine.ok(&["image", "load", "-i", archive.to_str().unwrap()]).contains("localhost/other:2"));
    assert_eq!(engine.ok(&["image", "remove", "localhost/other:2"]), "Untagged: localhost/other:2\n");
    let rootfs = engine.root.join("rootfs.tar");
    fs::write(&rootfs, image::layer(&[Entry::File("hello.txt".into(), b"hi\n".to_vec(), 0o644)])).unwrap();
    let imported = engine.ok(&["image", "import", rootfs.to_str().unwrap(), "localhost/imported"]);
    assert!(imported.starts_with("sha256:"), "{imported}");
    engine.ok(&["image", "rm", "localhost/imported"]);
    assert!(engine.ok(&["image", "prune", "-f"]).contains("Total reclaimed space"));
    // A pull from a port where nothing listens fails as a pull, not as a usage error.
    let err = engine.fails(&["image", "pull", "127.0.0.1:1/nothing:1"], 1);
    assert!(err.contains("127.0.0.1:1"), "{err}");
    assert!(engine.ok(&["system", "info"]).contains("Containers"));
    assert!(engine.ok(&["system", "df"]).starts_with("TYPE"));
    clean(&engine);
}

/// Writes an OCI layout of `layers` (uncompressed tars) whose config has `history`,
/// tars it up and loads it as `tag`; returns the image id.
fn load_image(engine: &Engine, tag: &str, layers: &[&[u8]], history: Value) -> String {
    let dir = engine.root.join("layout");
    let blobs = dir.join("blobs/sha256");
    fs::create_dir_all(&blobs).unwrap();
    let put = |data: &[u8]| -> String {
        let digest = image::digest(data);
        fs::write(blobs.join(&digest[7..]), data).unwrap();
        digest
    };
    let config = json!({
        "architecture": "amd64", "os": "linux", "created": "2024-01-03T00:00:00Z",
        "config": { "Cmd": ["sh"] },
        "rootfs": { "type": "layers", "diff_ids": layers.iter().map(|l| image::digest(l)).collect::<Vec<_>>() },
        "history": history,
    });
    let config_bytes = serde_json::to_vec(&config).unwrap();
    let layer_descs: Vec<Value> = layers
        .iter()
        .map(|l| json!({ "mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": put(l), "size": l.len() }))
        .collect();
    let manifest = json!({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": { "mediaType": "application/vnd.oci.image.config.v1+json", "digest": put(&config_bytes), "size": config_bytes.len() },
        "layers": layer_descs,
    });
    let manifest_bytes = serde_json::to_vec(&manifest).unwrap();
    let index = json!({ "schemaVersion": 2, "manifests": [{
        "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": put(&manifest_bytes),
        "size": manifest_bytes.len(), "annotations": { "org.opencontainers.image.ref.name": tag },
    }]});
    fs::write(dir.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
    fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    let archive = engine.root.join("layout.tar");
    let mut builder = tar::Builder::new(fs::File::create(&archive).unwrap());
    builder.append_dir_all(".", &dir).unwrap();
    builder.finish().unwrap();
    drop(builder);
    engine.ok(&["load", "-i", archive.to_str().unwrap()]);
    fs::remove_dir_all(&dir).unwrap();
    fs::remove_file(&archive).unwrap();
    let info: Value = serde_json::from_str(&engine.ok(&["image", "inspect", tag])).unwrap();
    info[0]["Id"].as_str().unwrap().to_owned()
}

/// An image of two layers whose history has five steps (two made no layer), as
/// `localhost/hist:1`; returns its id and the two layers' tar sizes.
fn load_image_with_history(engine: &Engine) -> (String, [u64; 2]) {
    let base = image::layer(&[Entry::File("base.txt".into(), vec![b'b'; 3000], 0o644)]);
    let app = image::layer(&[Entry::File("app.txt".into(), vec![b'a'; 20_000], 0o644)]);
    let long = "/bin/sh -c apt-get update && apt-get install -y --no-install-recommends ca-certificates curl";
    let history = json!([
        { "created": "2024-01-01T00:00:00Z", "created_by": "/bin/sh -c #(nop) ADD file:base in /" },
        { "created": "2024-01-01T00:00:01Z", "created_by": "/bin/sh -c #(nop)  CMD [\"sh\"]", "empty_layer": true },
        { "created": "2024-01-02T00:00:00Z", "created_by": long, "comment": "buildkit.dockerfile.v0" },
        { "created": "2024-01-02T00:00:01Z", "created_by": "ENV\tA=1", "empty_layer": true },
        { "created": "2024-01-03T00:00:00Z", "created_by": "LABEL x=y", "empty_layer": true },
    ]);
    let id = load_image(engine, "localhost/hist:1", &[&base, &app], history);
    (id, [base.len() as u64, app.len() as u64])
}

/// Splits a table row at runs of two or more spaces (Docker's columns are three apart).
fn cells(line: &str) -> Vec<String> {
    line.split("   ").map(str::trim).filter(|c| !c.is_empty()).map(str::to_owned).collect()
}

#[test]
fn history_shows_each_step_with_its_layer() {
    let engine = Engine::new(BIN, "history");
    let (id, [base, app]) = load_image_with_history(&engine);
    let out = engine.ok(&["history", "localhost/hist:1"]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(cells(lines[0]), ["IMAGE", "CREATED", "CREATED BY", "SIZE", "COMMENT"], "{out}");
    assert_eq!(lines.len(), 6, "{out}");
    // Newest first; the top step carries the image id, the others `<missing>`.
    let rows: Vec<Vec<String>> = lines[1..].iter().map(|l| cells(l)).collect();
    assert_eq!(rows[0][0], id[7..19], "{out}");
    assert!(rows[1..].iter().all(|r| r[0] == "<missing>"), "{out}");
    assert!(rows.iter().all(|r| r[1].ends_with(" ago")), "{out}");
    assert_eq!(rows[0][2], "LABEL x=y");
    // Tabs become spaces; long commands end in an ellipsis at 45 characters.
    assert_eq!(rows[1][2], "ENV A=1");
    assert_eq!(rows[2][2].chars().count(), 45, "{out}");
    assert!(rows[2][2].ends_with('…') && rows[2][2].starts_with("/bin/sh -c apt-get update"), "{out}");
    assert_eq!(rows[2][4], "buildkit.dockerfile.v0");
    // Steps without a layer are 0B; the others have their layer's size.
    for (row, size) in [(0, "0B"), (1, "0B"), (3, "0B")] {
        assert_eq!(rows[row][3], size, "{out}");
    }
    assert_eq!(rows[2][3], human(app), "{out}");
    assert_eq!(rows[4][3], human(base), "{out}");

    // --no-trunc: the full id and command; -H=false: RFC 3339 times and byte counts.
    let full = engine.ok(&["image", "history", "--no-trunc", "-H=false", "localhost/hist:1"]);
    let lines: Vec<&str> = full.lines().collect();
    assert!(lines[1].starts_with(&id), "{full}");
    assert!(full.contains("apt-get install -y --no-install-recommends ca-certificates curl"), "{full}");
    assert!(lines[1].contains("2024-01-03T00:00:00Z"), "{full}");
    assert!(lines[3].contains(&format!("   {app}   ")), "{full}");
    // -q: the ids alone, as Docker prints them.
    let quiet = engine.ok(&["history", "-q", "localhost/hist:1"]);
    assert_eq!(quiet, format!("{}\n<missing>\n<missing>\n<missing>\n<missing>\n", &id[7..19]));
    // --format: a template per step, `table` with Docker's headers, or JSON.
    let sizes = engine.ok(&["history", "--format", "{{.ID}} {{.Size}}", "localhost/hist:1"]);
    assert_eq!(sizes.lines().nth(2).unwrap(), format!("<missing> {}", human(app)), "{sizes}");
    let table = engine.ok(&["history", "--format", "table {{.CreatedBy}}\t{{.Comment}}", "localhost/hist:1"]);
    assert_eq!(cells(table.lines().next().unwrap()), ["CREATED BY", "COMMENT"], "{table}");
    let json_out = engine.ok(&["history", "--format", "json", "localhost/hist:1"]);
    let top: Value = serde_json::from_str(json_out.lines().next().unwrap()).unwrap();
    assert_eq!(top["CreatedBy"], "LABEL x=y");
    assert_eq!(top["Size"], "0B");
    let err = engine.fails(&["history", "localhost/nothing"], 1);
    assert!(err.contains("No such image"), "{err}");
    engine.ok(&["rmi", "localhost/hist:1"]);

    // An image whose history names more layers than it has (the image's word against its
    // layers): an error, not a row with a made-up size; escapes are shown, not obeyed.
    let one = image::layer(&[Entry::File("one.txt".into(), vec![b'1'; 100], 0o644)]);
    let history = json!([
        { "created_by": "first" },
        { "created_by": "\u{1b}[2Jsecond", "comment": "a\nb" },
    ]);
    load_image(&engine, "localhost/lying:1", &[&one], history);
    let err = engine.fails(&["history", "localhost/lying:1"], 1);
    assert!(err.contains("more non-empty steps"), "{err}");
    let history = json!([{ "created_by": "\u{1b}[2Jfirst", "comment": "a\nb" }]);
    load_image(&engine, "localhost/escapes:1", &[&one], history);
    let out = engine.ok(&["history", "--no-trunc", "localhost/escapes:1"]);
    assert!(!out.contains('\u{1b}') && out.contains("\\u{1b}[2Jfirst") && out.contains("a\\nb"), "{out}");
    assert_eq!(out.lines().count(), 2, "{out}");
}

/// Sizes as Docker prints them: three significant digits, decimal units.
fn human(bytes: u64) -> String {
    if bytes < 1000 {
        return format!("{bytes}B");
    }
    let kb = bytes as f64 / 1000.0;
    let text = if kb < 10.0 {
        format!("{kb:.2}")
    } else if kb < 100.0 {
        format!("{kb:.1}")
    } else {
        format!("{kb:.0}")
    };
    let text = if text.contains('.') { text.trim_end_matches('0').trim_end_matches('.').to_owned() } else { text };
    format!("{text}kB")
}

#[test]
fn port_lists_all_or_one_mapping() {
    let engine = Engine::with_busybox(BIN, "port");
    engine.ok(&[
        "run",
        "-d",
        "--name",
        "pc",
        "-p",
        "127.0.0.1:8082:80",
        "-p",
        "9053:53/udp",
        "localhost/busybox",
        "sleep",
        "1000",
    ]);
    assert_eq!(engine.ok(&["port", "pc"]), "53/udp -> 0.0.0.0:9053\n53/udp -> [::]:9053\n80/tcp -> 127.0.0.1:8082\n");
    assert_eq!(engine.ok(&["port", "pc", "80"]), "127.0.0.1:8082\n");
    assert_eq!(engine.ok(&["port", "pc", "80/tcp"]), "127.0.0.1:8082\n");
    assert_eq!(engine.ok(&["container", "port", "pc", "53/udp"]), "0.0.0.0:9053\n[::]:9053\n");
    let err = engine.fails(&["port", "pc", "53"], 1);
    assert!(err.contains("No public port '53' published for pc"), "{err}");
    let err = engine.fails(&["port", "pc", "80/udp"], 1);
    assert!(err.contains("No public port '80/udp' published for pc"), "{err}");
    let err = engine.fails(&["port", "pc", "http"], 1);
    assert!(err.contains("invalid port"), "{err}");
    engine.fails(&["port", "nosuch"], 1);
    engine.ok(&["stop", "-t", "0", "pc"]);
    // A stopped container publishes nothing.
    assert_eq!(engine.ok(&["port", "pc"]), "");
    engine.fails(&["port", "pc", "80"], 1);
    engine.ok(&["rm", "pc"]);
    clean(&engine);
}

/// "RX / TX" -> bytes, from Docker's decimal units.
fn parse_pair(text: &str) -> (f64, f64) {
    let one = |s: &str| -> f64 {
        let s = s.trim();
        let split = s.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(s.len());
        let (n, unit) = s.split_at(split);
        let n: f64 = n.parse().unwrap_or_else(|_| panic!("not a size: {s:?}"));
        n * match unit {
            "B" => 1.0,
            "kB" => 1e3,
            "MB" => 1e6,
            "GB" => 1e9,
            other => panic!("unit {other:?} in {s:?}"),
        }
    };
    let (a, b) = text.split_once(" / ").unwrap_or_else(|| panic!("not a pair: {text:?}"));
    (one(a), one(b))
}

#[test]
fn stats_shows_network_and_block_io() {
    let engine = Engine::with_busybox(BIN, "stats");
    engine.ok(&["run", "-d", "--name", "st", "localhost/busybox", "sleep", "1000"]);
    let gateway = engine.ok(&["inspect", "-f", "{{.NetworkSettings.Networks.bridge.Gateway}}", "st"]);
    let gateway = gateway.trim();
    assert!(!gateway.is_empty());
    // Traffic over eth0 (to the fake host's bridge) and data written to disk.
    engine.ok(&["exec", "st", "ping", "-c", "3", "-i", "0.2", "-s", "1000", gateway]);
    engine.ok(&["exec", "st", "dd", "if=/dev/zero", "of=/data", "bs=1M", "count=8", "oflag=direct", "conv=fsync"]);
    // Read back past the page cache: a direct read is always the reader's own I/O, where
    // cgroup v1 charges the kernel's flusher, not the container, for written pages it
    // gets to first (a busy machine).
    engine.ok(&["exec", "st", "dd", "if=/data", "of=/dev/null", "bs=1M", "iflag=direct"]);

    let out = engine.ok(&["stats", "--no-stream", "st"]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        cells(lines[0]),
        ["CONTAINER ID", "NAME", "CPU %", "MEM USAGE / LIMIT", "MEM %", "NET I/O", "BLOCK I/O", "PIDS"],
        "{out}"
    );
    let row = cells(lines[1]);
    assert_eq!(row[1], "st", "{out}");
    let (rx, tx) = parse_pair(&row[5]);
    assert!(rx >= 3000.0 && tx >= 3000.0, "three 1 kB pings each way: {out}");
    let (read, _written) = parse_pair(&row[6]);
    assert!(read >= 8e6, "8 MB read from disk: {out}");
    assert_eq!(row[7], "1", "{out}");

    // --format json: Docker's keys, one object per line.
    let json_out = engine.ok(&["stats", "--no-stream", "--format", "json", "st"]);
    let v: Value = serde_json::from_str(json_out.trim()).unwrap();
    for key in ["BlockIO", "CPUPerc", "Container", "ID", "MemPerc", "MemUsage", "Name", "NetIO", "PIDs"] {
        assert!(v[key].is_string(), "{key} in {json_out}");
    }
    assert_eq!(v["Name"], "st");
    assert_eq!(v["Container"], "st");
    // The same counters (a little more by now: the interface keeps talking).
    let (rx2, tx2) = parse_pair(v["NetIO"].as_str().unwrap());
    assert!(rx2 >= rx && tx2 >= tx, "{json_out} after {out}");
    // A template, with and without `table`.
    assert_eq!(engine.ok(&["stats", "--no-stream", "--format", "{{.Name}}: {{.PIDs}}", "st"]), "st: 1\n");
    let table = engine.ok(&["stats", "--no-stream", "--format", "table {{.Name}}\t{{.NetIO}}", "st"]);
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(cells(lines[0]), ["NAME", "NET I/O"], "{table}");
    assert_eq!(cells(lines[1])[0], "st", "{table}");

    // Without --no-stream the table is redrawn until stopped.
    let mut cmd = engine.cmd();
    cmd.args(["stats", "st"]).stdout(Stdio::piped()).stderr(Stdio::null());
    let mut child = cmd.spawn().unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut all = Vec::new();
        let _ = stdout.read_to_end(&mut all);
        String::from_utf8_lossy(&all).into_owned()
    });
    std::thread::sleep(Duration::from_secs(4));
    // Only the child we started, by its pid (nsenter execs lindocker in place).
    let _ = rustix::process::kill_process(
        rustix::process::Pid::from_raw(child.id() as i32).unwrap(),
        rustix::process::Signal::TERM,
    );
    let _ = child.wait();
    let streamed = reader.join().unwrap();
    assert!(streamed.matches("NET I/O").count() >= 2, "redrawn: {streamed}");
    assert!(streamed.matches(" st ").count() >= 2, "redrawn: {streamed}");

    engine.ok(&["rm", "-f", "st"]);
    clean(&engine);
}

/// A cgroup file of container `id` on the host (cgroup v1 or v2).
fn cgroup_file(engine: &Engine, id: &str, controller: &str, v1: &str, v2: &str) -> String {
    let one = format!("/sys/fs/cgroup/{controller}{}/{id}/{v1}", engine.cgroup_parent);
    let two = format!("/sys/fs/cgroup{}/{id}/{v2}", engine.cgroup_parent);
    fs::read_to_string(&one).or_else(|_| fs::read_to_string(&two)).unwrap_or_else(|e| panic!("{one}: {e}"))
}

/// Flags and commands the parity table lists as supported that no other test used:
/// each checked where a Docker user would look.
#[test]
fn table_rows_without_other_tests() {
    let engine = Engine::with_busybox(BIN, "rows");
    assert!(engine.ok(&["version"]).contains("lindocker"));
    assert!(engine.ok(&["run", "--help"]).contains("Usage: lindocker run"));
    // --cap-add: the capability is in the container's effective set (bit 12 NET_ADMIN).
    let caps = |extra: &[&str]| -> u64 {
        let mut args = vec!["run", "--rm"];
        args.extend(extra);
        args.extend(["localhost/busybox", "grep", "CapEff", "/proc/self/status"]);
        let out = engine.ok(&args);
        u64::from_str_radix(out.split_whitespace().nth(1).unwrap(), 16).unwrap()
    };
    assert_eq!(caps(&[]) >> 12 & 1, 0);
    assert_eq!(caps(&["--cap-add", "NET_ADMIN"]) >> 12 & 1, 1);
    // -c/--cpu-shares, --stop-timeout, --mac-address, --net, --publish, --workdir, --volume.
    let vol = engine.root.join("vol");
    fs::create_dir_all(&vol).unwrap();
    fs::write(vol.join("f"), "from the host\n").unwrap();
    let id = engine.ok(&[
        "run",
        "-d",
        "--name",
        "rows",
        "-c",
        "512",
        "--stop-timeout",
        "3",
        "--mac-address",
        "92:d0:c6:0a:29:33",
        "--net",
        "bridge",
        "--publish",
        "8083:80",
        "--workdir",
        "/tmp",
        "--volume",
        &format!("{}:/v:ro", vol.display()),
        "localhost/busybox",
        "sleep",
        "1000",
    ]);
    let id = id.trim();
    let shares = cgroup_file(&engine, id, "cpu", "cpu.shares", "cpu.weight");
    // cgroup v2 holds the weight runc converts 512 shares to.
    assert!(shares.trim() == "512" || shares.trim() == "20", "{shares}");
    assert_eq!(engine.ok(&["inspect", "-f", "{{.Config.StopTimeout}}", "rows"]), "3\n");
    assert!(engine.ok(&["exec", "rows", "cat", "/sys/class/net/eth0/address"]).starts_with("92:d0:c6:0a:29:33"));
    assert_eq!(engine.ok(&["port", "rows"]), "80/tcp -> 0.0.0.0:8083\n80/tcp -> [::]:8083\n");
    assert_eq!(engine.ok(&["exec", "rows", "pwd"]), "/tmp\n");
    assert_eq!(engine.ok(&["exec", "rows", "cat", "/v/f"]), "from the host\n");
    engine.fails(&["exec", "rows", "touch", "/v/g"], 1);
    assert_eq!(engine.ok(&["restart", "-t", "1", "rows"]), "rows\n");
    engine.ok(&["rm", "-f", "rows"]);
    // volume create/prune, network prune, system prune.
    assert_eq!(engine.ok(&["volume", "create", "spare"]), "spare\n");
    assert!(engine.ok(&["volume", "ls"]).contains("spare"));
    engine.ok(&["volume", "prune", "-a", "-f"]);
    assert!(!engine.ok(&["volume", "ls"]).contains("spare"));
    engine.ok(&["network", "create", "spare-net"]);
    engine.ok(&["network", "prune", "-f"]);
    assert!(!engine.ok(&["network", "ls"]).contains("spare-net"));
    engine.ok(&["create", "--name", "leftover", "localhost/busybox", "true"]);
    engine.ok(&["system", "prune", "-f"]);
    assert_eq!(engine.ok(&["ps", "-a", "-q"]), "");
    clean(&engine);
}

/// `ps --filter` as Docker combines filters: values of one key are alternatives, labels
/// must all hold, different keys must all hold.
#[test]
fn ps_filters_combine_as_docker() {
    let engine = Engine::new(BIN, "ps-filters");
    let tar = engine.root.join("busybox.tar");
    fs::write(&tar, image::busybox_layer(&engine.root)).unwrap();
    engine.ok(&["import", tar.to_str().unwrap(), "localhost/busybox"]);
    #[rustfmt::skip]
    let create = |name: &str, labels: &[&str]| {
        let mut args = vec!["create", "--name", name, "--network", "none"];
        for l in labels { args.extend(["--label", l]); }
        args.extend(["localhost/busybox", "true"]);
        engine.ok(&args);
    };
    create("fa", &["team=a", "tier=web"]);
    create("fb", &["team=b", "tier=web"]);
    create("fc", &["team=a"]);
    let names = |filters: &[&str]| {
        let mut args = vec!["ps", "-a", "--format", "{{.Names}}"];
        for f in filters {
            args.extend(["--filter", f]);
        }
        let mut out: Vec<String> = engine.ok(&args).lines().map(str::to_owned).collect();
        out.sort();
        out
    };
    assert_eq!(names(&["name=fa", "name=fb"]), ["fa", "fb"]);
    assert_eq!(names(&["name=fa", "name=fb", "status=created", "label=team=a"]), ["fa"]);
    assert_eq!(names(&["label=team=a", "label=tier=web"]), ["fa"]);
    assert_eq!(names(&["label=team=a", "label=team=b"]), Vec::<String>::new());
    engine.fails(&["ps", "--filter", "nope=1"], 1);
    engine.ok(&["rm", "fa", "fb", "fc"]);
}
