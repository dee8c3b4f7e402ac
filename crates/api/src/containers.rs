//! The container endpoints: create, start, stop, kill, restart, pause, unpause, wait,
//! delete, list, inspect, logs, attach, resize, top, rename, changes, export, stats,
//! update, prune. Thin: HTTP in, a typed engine call (in a blocking task), JSON out.

use std::time::SystemTime;

use hyper::body::Incoming;
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::{Request, Response, StatusCode};
use lindocker_engine::attach::{Kind, write_frame};
use lindocker_engine::listing::{ListOptions, status_name, status_text};
use lindocker_engine::log_read::LogOptions;
use lindocker_engine::record::{Record, Status};
use lindocker_engine::waiting::WaitCondition;
use lindocker_engine::{Engine, EngineError};
use serde_json::{Value, json};

use crate::body::{Body, channel};
use crate::error::{ApiError, ApiResult};
use crate::hijack::{How, Source};
use crate::models::CreateBody;
use crate::router::{Ctx, Routed, json, no_content, read_json, with_status};
use crate::streams::{Output, chunk};

/// Routes `/containers/...`.
pub async fn route(ctx: &Ctx, request: Request<Incoming>) -> Routed {
    let path = ctx.path();
    let method = request.method().as_str().to_owned();
    let result = match (method.as_str(), path.as_slice()) {
        ("POST", ["containers", "create"]) => create(ctx, request).await,
        ("GET", ["containers", "json"]) => list(ctx).await,
        ("POST", ["containers", "prune"]) => prune(ctx).await,
        ("GET", ["containers", id, "json"]) => inspect(ctx, id).await,
        ("POST", ["containers", id, "start"]) => start(ctx, id).await,
        ("POST", ["containers", id, "stop"]) => stop(ctx, id).await,
        ("POST", ["containers", id, "restart"]) => restart(ctx, id).await,
        ("POST", ["containers", id, "kill"]) => kill(ctx, id).await,
        ("POST", ["containers", id, "pause"]) => pause(ctx, id, true).await,
        ("POST", ["containers", id, "unpause"]) => pause(ctx, id, false).await,
        ("POST", ["containers", id, "wait"]) => wait(ctx, id).await,
        ("DELETE", ["containers", id]) => delete(ctx, id).await,
        ("GET", ["containers", id, "logs"]) => logs(ctx, id).await,
        ("POST", ["containers", id, "attach"]) => attach(ctx, id, request).await,
        ("POST", ["containers", id, "resize"]) => resize(ctx, id).await,
        ("GET", ["containers", id, "top"]) => top(ctx, id).await,
        ("POST", ["containers", id, "rename"]) => rename(ctx, id).await,
        ("POST", ["containers", id, "update"]) => update(ctx, id, request).await,
        ("GET", ["containers", id, "stats"]) => stats(ctx, id).await,
        ("GET", ["containers", id, "changes"]) => changes(ctx, id).await,
        ("GET", ["containers", id, "export"]) => export(ctx, id).await,
        ("GET" | "HEAD", ["containers", id, "archive"]) => archive_get(ctx, id, method == "HEAD").await,
        ("PUT", ["containers", id, "archive"]) => archive_put(ctx, id, request).await,
        _ => return Err(request),
    };
    Ok(result)
}

/// The container `name` names (a name, an id or a prefix of one), settled.
pub fn find(engine: &Engine, name: &str) -> ApiResult<Record> {
    check_ref(name)?;
    Ok(engine.find_container(name)?)
}

/// A client's container reference is a name (`/` before it allowed) or an id prefix:
/// nothing else reaches the engine, whose names are file names.
pub fn check_ref(name: &str) -> ApiResult<()> {
    let bare = name.strip_prefix('/').unwrap_or(name);
    if lindocker_engine::ids::valid_name(bare) || (!bare.is_empty() && bare.bytes().all(|b| b.is_ascii_hexdigit())) {
        Ok(())
    } else {
        Err(EngineError::NoSuchContainer(name.into()).into())
    }
}

async fn create(ctx: &Ctx, request: Request<Incoming>) -> ApiResult<Response<Body>> {
    let name = ctx.query.get("name").filter(|n| !n.is_empty()).map(|n| n.strip_prefix('/').unwrap_or(n).to_owned());
    if let Some(name) = &name
        && !lindocker_engine::ids::valid_name(name)
    {
        return Err(ApiError::bad(format!(
            "Invalid container name ({name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
        )));
    }
    let body: CreateBody = read_json(request).await?;
    let create = body.to_request(name)?;
    let size = body.host_config.as_ref().and_then(|h| h.console_size).filter(|[h, w]| *h > 0 && *w > 0);
    let record = ctx.blocking(move |engine| Ok(engine.create(&create)?)).await?;
    if let (Some([h, w]), true) = (size, record.config.tty) {
        ctx.service.console_sizes.lock().unwrap_or_else(|e| e.into_inner()).insert(record.id.clone(), (h, w));
    }
    json(StatusCode::CREATED, &json!({ "Id": record.id, "Warnings": [] }))
}

async fn start(ctx: &Ctx, name: &str) -> ApiResult<Response<Body>> {
    let service = ctx.service.clone();
    let name = name.to_owned();
    let unclaimed = ctx
        .blocking(move |engine| {
            let record = find(engine, &name)?;
            if record.state.status.is_live() {
                return Ok(None);
            }
            let id = record.id.clone();
            service.starting.lock().unwrap_or_else(|e| e.into_inner()).insert(id.clone());
            let exit = service.exit_slot(&id);
            let result: ApiResult<std::os::unix::net::UnixStream> = (|| {
                let mut stream = engine.start(&id)?;
                Engine::wait_started(&mut stream).map_err(|(message, _)| ApiError::internal(message))?;
                // The client's terminal size before anyone hears of the start.
                let size = service.console_sizes.lock().unwrap_or_else(|e| e.into_inner()).get(&id).copied();
                if let Some((h, w)) = size {
                    let mut payload = h.to_be_bytes().to_vec();
                    payload.extend_from_slice(&w.to_be_bytes());
                    let _ = write_frame(&stream, Kind::Resize, &payload);
                }
                Ok(stream)
            })();
            // Clients that attached before the start get its stream: all the output. The
            // first of them hears the exit code for `wait`.
            let waiters = service.attach_waiters.lock().unwrap_or_else(|e| e.into_inner()).remove(&id);
            service.starting.lock().unwrap_or_else(|e| e.into_inner()).remove(&id);
            let mut stream = Some(result?);
            for waiter in waiters.unwrap_or_default() {
                let next = match stream.take() {
                    Some(s) => (s, Some(exit.clone())),
                    None => match lindocker_runtime::socket_path::connect(&engine.attach_socket(&id)) {
                        Ok(s) => (s, None),
                        Err(_) => continue,
                    },
                };
                let _ = waiter.send(next);
            }
            Ok(Some(stream.map(|s| (s, exit))))
        })
        .await?;
    match unclaimed {
        None => Ok(with_status(StatusCode::NOT_MODIFIED, crate::body::empty())),
        Some(rest) => {
            if let Some((stream, exit)) = rest
                && let Some(stream) = crate::hijack::into_tokio(stream)
            {
                tokio::spawn(crate::hijack::hold_for_exit(stream, exit));
            }
            no_content()
        }
    }
}

/// `t` (or `timeout`) seconds.
fn timeout(ctx: &Ctx) -> ApiResult<Option<u32>> {
    let t: Option<i64> = match ctx.query.number("t")? {
        Some(t) => Some(t),
        None => ctx.query.number("timeout")?,
    };
    // -1: wait forever, as far as a u32 of seconds goes.
    Ok(t.map(|t| if t < 0 { u32::MAX } else { u32::try_from(t).unwrap_or(u32::MAX) }))
}

async fn stop(ctx: &Ctx, name: &str) -> ApiResult<Response<Body>> {
    let t = timeout(ctx)?;
    let signal = ctx.query.get("signal").filter(|s| !s.is_empty()).map(str::to_owned);
    if let Some(s) = &signal {
        lindocker_engine::options::parse_signal("signal", s)?;
    }
    let name = name.to_owned();
    let stopped = ctx
        .blocking(move |engine| {
            let record = find(engine, &name)?;
            if !record.state.status.is_live() {
                return Ok(false);
            }
            if let Some(signal) = signal {
                engine.kill(&record.id, &signal)?;
            }
            engine.stop(&record.id, t)?;
            Ok(true)
        })
        .await?;
    if stopped { no_content() } else { Ok(with_status(StatusCode::NOT_MODIFIED, crate::body::empty())) }
}

async fn restart(ctx: &Ctx, name: &str) -> ApiResult<Response<Body>> {
    let t = timeout(ctx)?;
    let name = name.to_owned();
    ctx.blocking(move |engine| {
        let record = find(engine, &name)?;
        engine.stop(&record.id, t)?;
        let mut stream = engine.start(&record.id)?;
        Engine::wait_started(&mut stream).map_err(|(message, _)| ApiError::internal(message))?;
        engine.events().emit(lindocker_engine::events::Event::container(&record, "restart", &[]));
        Ok(())
    })
    .await?;
    no_content()
}

async fn kill(ctx: &Ctx, name: &str) -> ApiResult<Response<Body>> {
    let signal = ctx.query.get("signal").filter(|s| !s.is_empty()).unwrap_or("KILL").to_owned();
    lindocker_engine::options::parse_signal("signal", &signal)?;
    let name = name.to_owned();
    ctx.blocking(move |engine| Ok(engine.kill(&find(engine, &name)?.id, &signal)?)).await?;
    no_content()
}

async fn pause(ctx: &Ctx, name: &str, freeze: bool) -> ApiResult<Response<Body>> {
    let name = name.to_owned();
    ctx.blocking(move |engine| Ok(engine.pause(&find(engine, &name)?.id, freeze)?)).await?;
    no_content()
}

async fn rename(ctx: &Ctx, name: &str) -> ApiResult<Response<Body>> {
    let new_name = ctx.query.get("name").unwrap_or_default().to_owned();
    if !lindocker_engine::ids::valid_name(&new_name) {
        return Err(ApiError::bad(format!(
            "Invalid container name ({new_name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
        )));
    }
    let name = name.to_owned();
    ctx.blocking(move |engine| Ok(engine.rename(&find(engine, &name)?.id, &new_name)?)).await?;
    no_content()
}

/// `update`: the limits and restart policy changed (at once if it runs).
async fn update(ctx: &Ctx, name: &str, request: Request<Incoming>) -> ApiResult<Response<Body>> {
    let body: crate::models::UpdateBody = read_json(request).await?;
    let request = body.to_request()?;
    let name = name.to_owned();
    ctx.blocking(move |engine| {
        engine.update(&find(engine, &name)?.id, &request)?;
        Ok(())
    })
    .await?;
    json(StatusCode::OK, &json!({ "Warnings": [] }))
}

/// `wait`: the headers at once, the exit code when the condition holds (dockerd's way:
/// the docker CLI asks before it starts the container).
async fn wait(ctx: &Ctx, name: &str) -> ApiResult<Response<Body>> {
    let condition: WaitCondition = ctx.query.get("condition").unwrap_or_default().parse()?;
    let name = name.to_owned();
    let record = ctx.blocking(move |engine| find(engine, &name)).await?;
    let (tx, body) = channel();
    let service = ctx.service.clone();
    tokio::spawn(async move {
        let engine = service.engine.clone();
        let id = record.id.clone();
        // The waiter ends with its client (a thread held until the exit, hours later,
        // for each client gone would starve the blocking pool that every request needs).
        let client = tx.clone();
        let waited =
            crate::body::spawn_long(move || engine.wait_for_while(&id, condition, &|| !client.is_closed())).await;
        let answer = match waited {
            Ok(Ok(None)) => return,
            Ok(Ok(Some(mut code))) => {
                // A `--rm` container is gone before its shim tells the code; whoever
                // holds this service's start stream hears it.
                if condition != WaitCondition::NotRunning
                    && let Some(mut exit) = service.exit_of(&record.id)
                    && let Ok(Ok(heard)) =
                        tokio::time::timeout(std::time::Duration::from_secs(5), exit.wait_for(Option::is_some)).await
                {
                    code = heard.unwrap_or(code);
                }
                json!({ "StatusCode": code, "Error": null })
            }
            Ok(Err(e)) => json!({ "StatusCode": -1, "Error": { "Message": e.to_string() } }),
            Err(e) => json!({ "StatusCode": -1, "Error": { "Message": e.to_string() } }),
        };
        tx.send(answer.to_string() + "\n").await;
    });
    let mut response = Response::new(body);
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Ok(response)
}

async fn delete(ctx: &Ctx, name: &str) -> ApiResult<Response<Body>> {
    let force = ctx.query.flag("force")?;
    let volumes = ctx.query.flag("v")?;
    let name = name.to_owned();
    let service = ctx.service.clone();
    ctx.blocking(move |engine| match find(engine, &name) {
        Ok(record) => {
            if record.state.status.is_live() && !force {
                return Err(ApiError::conflict(format!(
                    "cannot remove container \"/{}\": container is {}: stop the container before removing or force remove",
                    record.name,
                    status_name(record.state.status)
                )));
            }
            engine.remove(&record.id, force, volumes)?;
            service.console_sizes.lock().unwrap_or_else(|e| e.into_inner()).remove(&record.id);
            service.exits.lock().unwrap_or_else(|e| e.into_inner()).remove(&record.id);
            Ok(())
        }
        // What a crash left under that name (or id) goes too.
        Err(_) if check_ref(&name).is_ok() && engine.remove_wreck(&name) => Ok(()),
        Err(e) => Err(e),
    })
    .await?;
    no_content()
}

/// Docker's `filters` query value: `{"key": ["v", ...]}` or the older
/// `{"key": {"v": true}}`.
pub fn filters(ctx: &Ctx) -> ApiResult<Vec<(String, String)>> {
    let Some(text) = ctx.query.get("filters").filter(|t| !t.is_empty()) else { return Ok(Vec::new()) };
    let value: serde_json::Map<String, Value> =
        serde_json::from_str(text).map_err(|e| ApiError::bad(format!("invalid filters: {e}")))?;
    let mut out = Vec::new();
    for (key, values) in value {
        match values {
            Value::Array(list) => {
                for v in list {
                    let Value::String(v) = v else {
                        return Err(ApiError::bad(format!("invalid filter value for {key}")));
                    };
                    out.push((key.clone(), v));
                }
            }
            Value::Object(map) => {
                for (v, on) in map {
                    if on == Value::Bool(true) {
                        out.push((key.clone(), v));
                    }
                }
            }
            _ => return Err(ApiError::bad(format!("invalid filter value for {key}"))),
        }
    }
    Ok(out)
}

async fn list(ctx: &Ctx) -> ApiResult<Response<Body>> {
    let options = ListOptions {
        all: ctx.query.flag("all")?,
        last: ctx.query.number::<i64>("limit")?.filter(|n| *n > 0).map(|n| n as usize),
        filters: filters(ctx)?,
    };
    let with_size = ctx.query.flag("size")?;
    let list = ctx
        .blocking(move |engine| {
            let records = engine.list_containers(&options)?;
            Ok(records.iter().map(|r| summary(engine, r, with_size)).collect::<Vec<_>>())
        })
        .await?;
    json(StatusCode::OK, &list)
}

/// Docker's `ContainerSummary`.
fn summary(engine: &Engine, r: &Record, with_size: bool) -> Value {
    let inspect = engine.inspect_json(r);
    let ports: Vec<Value> = engine
        .networks()
        .endpoints_of(&r.id)
        .unwrap_or_default()
        .iter()
        .flat_map(|e| {
            e.ports.iter().flat_map(|p| {
                p.host_addresses().into_iter().map(|a| {
                    json!({ "IP": a.ip().to_string(), "PrivatePort": p.container_port, "PublicPort": a.port(), "Type": p.protocol.to_string() })
                })
            })
        })
        .collect();
    let created =
        humantime::parse_rfc3339_weak(r.created.split('.').next().unwrap_or(&r.created).trim_end_matches('Z'))
            .ok()
            .and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_secs());
    let mut out = json!({
        "Id": r.id,
        "Names": [format!("/{}", r.name)],
        "Image": r.image_name,
        "ImageID": r.image,
        "Command": r.config.args.join(" "),
        "Created": created,
        "Ports": ports,
        "Labels": r.config.labels,
        "State": status_name(r.state.status),
        "Status": status_text(r),
        "HostConfig": { "NetworkMode": r.network.mode },
        "NetworkSettings": { "Networks": inspect["NetworkSettings"]["Networks"] },
        "Mounts": inspect["Mounts"],
    });
    if with_size {
        out["SizeRw"] = json!(lindocker_storage::layers::du(&engine.records().dir(&r.id).join("upper")));
    }
    out
}

async fn inspect(ctx: &Ctx, name: &str) -> ApiResult<Response<Body>> {
    let name = name.to_owned();
    let value = ctx.blocking(move |engine| Ok(engine.inspect_json(&find(engine, &name)?))).await?;
    json(StatusCode::OK, &value)
}

/// A `since`/`until` value: Unix seconds with an optional fraction (what the docker CLI
/// sends), or what `lindocker logs` takes.
fn log_time(key: &str, text: Option<&str>) -> ApiResult<Option<SystemTime>> {
    match text.filter(|t| !t.is_empty() && *t != "0") {
        None => Ok(None),
        Some(t) => lindocker_engine::logs::parse_time(t, SystemTime::now())
            .map(Some)
            .ok_or_else(|| ApiError::bad(format!("invalid value for {key}: {t:?}"))),
    }
}

async fn logs(ctx: &Ctx, name: &str) -> ApiResult<Response<Body>> {
    let stdout = ctx.query.flag("stdout")?;
    let stderr = ctx.query.flag("stderr")?;
    if !stdout && !stderr {
        return Err(ApiError::bad("Bad parameters: you must choose at least one stream"));
    }
    let timestamps = ctx.query.flag("timestamps")?;
    let tail = match ctx.query.get("tail").filter(|t| !t.is_empty() && *t != "all") {
        None => None,
        Some(t) => match t.parse::<i64>() {
            Ok(n) if n < 0 => None,
            Ok(n) => Some(n as usize),
            Err(_) => return Err(ApiError::bad(format!("invalid value for tail: {t:?}"))),
        },
    };
    let options = LogOptions {
        tail,
        since: log_time("since", ctx.query.get("since"))?,
        until: log_time("until", ctx.query.get("until"))?,
        follow: ctx.query.flag("follow")?,
    };
    let name = name.to_owned();
    let record = ctx
        .blocking(move |engine| {
            let record = find(engine, &name)?;
            // The driver's refusal is an error before any output.
            engine.log_reader(&record, Some(0))?;
            Ok(record)
        })
        .await?;
    let tty = record.config.tty;
    let (tx, body) = channel();
    let engine = ctx.service.engine.clone();
    crate::body::spawn_long(move || {
        // A batch per read: one chunk per entry would be thousands of tiny writes.
        let batch = std::cell::RefCell::new(Vec::new());
        let _ = engine.read_logs(
            &record,
            &options,
            |e| {
                let stream = if e.stream == "stderr" { Output::Stderr } else { Output::Stdout };
                if (stream == Output::Stdout && !stdout) || (stream == Output::Stderr && !stderr) {
                    return true;
                }
                let line = if timestamps { format!("{} {}", e.time, e.log) } else { e.log };
                let mut batch = batch.borrow_mut();
                batch.extend(chunk(tty, stream, line.as_bytes()));
                batch.len() < 1 << 20 || tx.send_blocking(std::mem::take(&mut *batch))
            },
            || {
                // A client that went away ends the follower at its next look.
                let mut batch = batch.borrow_mut();
                if batch.is_empty() { !tx.is_closed() } else { tx.send_blocking(std::mem::take(&mut *batch)) }
            },
        );
    });
    let mut response = Response::new(body);
    let kind = if tty { "application/vnd.docker.raw-stream" } else { "application/vnd.docker.multiplexed-stream" };
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static(kind));
    Ok(response)
}

async fn attach(ctx: &Ctx, name: &str, request: Request<Incoming>) -> ApiResult<Response<Body>> {
    let (stdin, stdout, stderr) = (ctx.query.flag("stdin")?, ctx.query.flag("stdout")?, ctx.query.flag("stderr")?);
    let (logs, live) = (ctx.query.flag("logs")?, ctx.query.flag("stream")?);
    let service = ctx.service.clone();
    let name = name.to_owned();
    let (how, prelude, source) = ctx
        .blocking(move |engine| {
            let record = find(engine, &name)?;
            let how = How { tty: record.config.tty, stdin: stdin && record.config.open_stdin, stdout, stderr };
            // `logs=1`: what it wrote so far first (docker-compose's `up` asks so).
            let mut prelude = Vec::new();
            if logs && engine.log_reader(&record, Some(0)).is_ok() {
                let _ = engine.read_logs(
                    &record,
                    &LogOptions::default(),
                    |e| {
                        let stream = if e.stream == "stderr" { Output::Stderr } else { Output::Stdout };
                        if (stream == Output::Stdout && stdout) || (stream == Output::Stderr && stderr) {
                            prelude.extend(chunk(how.tty, stream, e.log.as_bytes()));
                        }
                        prelude.len() < 8 << 20
                    },
                    || true,
                );
            }
            if !live {
                return Ok((how, prelude, Source::Nothing));
            }
            if record.state.status.is_live() {
                let stream = lindocker_runtime::socket_path::connect(&engine.attach_socket(&record.id))
                    .map_err(|e| ApiError::internal(format!("connecting to the container's shim: {e}")))?;
                return Ok((how, prelude, Source::Now(stream)));
            }
            if record.state.status == Status::Removing {
                return Err(ApiError::conflict(format!("container {} is being removed", record.name)));
            }
            // Attached before the start (docker run, start -a): the start's stream.
            let (tx, rx) = tokio::sync::oneshot::channel();
            service
                .attach_waiters
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .entry(record.id.clone())
                .or_default()
                .push(tx);
            Ok((how, prelude, Source::Later { handover: rx, id: record.id }))
        })
        .await?;
    Ok(crate::hijack::attach(&ctx.service, request, how, prelude, source))
}

/// Sends a terminal size to a shim (`resize` of a container or of an exec's terminal).
pub fn send_resize(socket: &std::path::Path, height: u16, width: u16) -> ApiResult<()> {
    let stream = lindocker_runtime::socket_path::connect(socket)
        .map_err(|e| ApiError::conflict(format!("cannot resize: {e}")))?;
    let mut size = height.to_be_bytes().to_vec();
    size.extend_from_slice(&width.to_be_bytes());
    write_frame(&stream, Kind::Resize, &size).map_err(|e| ApiError::internal(e.to_string()))
}

/// `h` and `w`.
pub fn size(ctx: &Ctx) -> ApiResult<(u16, u16)> {
    let h = ctx.query.number::<u16>("h")?.unwrap_or(0);
    let w = ctx.query.number::<u16>("w")?.unwrap_or(0);
    Ok((h, w))
}

async fn resize(ctx: &Ctx, name: &str) -> ApiResult<Response<Body>> {
    let (h, w) = size(ctx)?;
    let name = name.to_owned();
    ctx.blocking(move |engine| {
        let record = find(engine, &name)?;
        if !record.state.status.is_live() {
            return Err(ApiError::conflict(format!("Container {} is not running", record.id)));
        }
        send_resize(&engine.attach_socket(&record.id), h, w)
    })
    .await?;
    Ok(with_status(StatusCode::OK, crate::body::empty()))
}

async fn top(ctx: &Ctx, name: &str) -> ApiResult<Response<Body>> {
    let args: Vec<String> =
        ctx.query.get("ps_args").unwrap_or_default().split_whitespace().map(str::to_owned).collect();
    let name = name.to_owned();
    let top = ctx.blocking(move |engine| Ok(engine.top(&find(engine, &name)?, &args)?)).await?;
    json(StatusCode::OK, &json!({ "Titles": top.titles, "Processes": top.processes }))
}

async fn prune(ctx: &Ctx) -> ApiResult<Response<Body>> {
    let deleted = ctx
        .blocking(|engine| {
            let mut freed = engine.sweep_wrecks();
            for record in engine.records().all()? {
                let Some(record) = engine.settle(record) else { continue };
                if !record.state.status.is_live() {
                    engine.remove(&record.id, false, false)?;
                    freed.push(record.id);
                }
            }
            Ok(freed)
        })
        .await?;
    json(StatusCode::OK, &json!({ "ContainersDeleted": deleted, "SpaceReclaimed": 0 }))
}

/// `path` of the archive endpoints.
fn archive_path(ctx: &Ctx) -> ApiResult<String> {
    let path = ctx.query.get("path").unwrap_or_default();
    if path.is_empty() || path.contains('\0') {
        return Err(ApiError::bad("path is required"));
    }
    Ok(path.to_owned())
}

/// `X-Docker-Container-Path-Stat`: base64 of Docker's JSON (a Go `os.FileMode`).
fn path_stat_header(stat: &lindocker_engine::files::PathStat) -> ApiResult<HeaderValue> {
    use base64::Engine as _;
    let json = json!({
        "name": stat.name, "size": stat.size, "mode": go_file_mode(stat.mode),
        "mtime": stat.mtime, "linkTarget": stat.link_target,
    });
    HeaderValue::from_str(&base64::engine::general_purpose::STANDARD.encode(json.to_string()))
        .map_err(|e| ApiError::internal(e.to_string()))
}

/// Go's `os.FileMode` of a `st_mode`: permission bits, and the type and special bits
/// in Go's places.
fn go_file_mode(mode: u32) -> u32 {
    let mut out = mode & 0o777;
    out |= match mode & 0o170000 {
        0o040000 => 1 << 31,
        0o120000 => 1 << 27,
        0o060000 => 1 << 26,
        0o010000 => 1 << 25,
        0o140000 => 1 << 24,
        0o020000 => (1 << 26) | (1 << 21),
        _ => 0,
    };
    if mode & 0o4000 != 0 {
        out |= 1 << 23;
    }
    if mode & 0o2000 != 0 {
        out |= 1 << 22;
    }
    if mode & 0o1000 != 0 {
        out |= 1 << 20;
    }
    out
}

async fn archive_get(ctx: &Ctx, name: &str, head: bool) -> ApiResult<Response<Body>> {
    let path = archive_path(ctx)?;
    check_ref(name)?;
    let (n, p) = (name.to_owned(), path.clone());
    let stat = ctx.blocking(move |engine| Ok(engine.stat_path(&n, &p)?)).await?;
    let header = path_stat_header(&stat)?;
    let body = if head {
        crate::body::empty()
    } else {
        let (tx, body) = channel();
        let engine = ctx.service.engine.clone();
        let name = name.to_owned();
        crate::body::spawn_long(move || {
            let mut out = crate::body::ChunkWriter::new(tx);
            // An error halfway ends the stream short: the client's tar reader says so.
            let options = lindocker_engine::copy::CopyOptions { follow_link: false, archive: true };
            if engine.archive_out(&name, &path, &mut out, options).is_ok() {
                let _ = std::io::Write::flush(&mut out);
            }
        });
        body
    };
    let mut response = Response::new(body);
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/x-tar"));
    response.headers_mut().insert("X-Docker-Container-Path-Stat", header);
    Ok(response)
}

async fn archive_put(ctx: &Ctx, name: &str, request: Request<Incoming>) -> ApiResult<Response<Body>> {
    let path = archive_path(ctx)?;
    check_ref(name)?;
    let keep_owners = ctx.query.flag("copyUIDGID")?;
    let mut input = crate::body::BodyReader::new(request.into_body());
    let name = name.to_owned();
    // The body comes at the client's pace: not on the pool the short calls need.
    ctx.long(move |engine| {
        let options = lindocker_engine::copy::CopyOptions { follow_link: false, archive: keep_owners };
        let result = engine.archive_in(&name, &path, &mut input, options);
        // The tar's end is before the body's (padding): the client writes the rest, and
        // would fail on a connection we closed.
        let _ = std::io::copy(&mut std::io::Read::take(&mut input, 16 << 20), &mut std::io::sink());
        Ok(result?)
    })
    .await?;
    Ok(with_status(StatusCode::OK, crate::body::empty()))
}

/// The host's CPU time so far in nanoseconds (`/proc/stat`'s first line, in USER_HZ).
fn system_cpu_ns() -> u64 {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let jiffies: u64 = stat
        .lines()
        .next()
        .map(|l| l.split_whitespace().skip(1).take(8).filter_map(|n| n.parse::<u64>().ok()).sum())
        .unwrap_or(0);
    jiffies * 10_000_000
}

/// One sample as Docker's `StatsResponse` parts (`cpu_stats` and the rest).
fn sample(engine: &Engine, record: &Record) -> (Value, Value) {
    let usage = engine.usage(record).unwrap_or_default();
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let cpu = json!({
        "cpu_usage": { "total_usage": usage.cpu_ns, "usage_in_kernelmode": 0, "usage_in_usermode": 0 },
        "system_cpu_usage": system_cpu_ns(), "online_cpus": cpus, "throttling_data": { "periods": 0, "throttled_periods": 0, "throttled_time": 0 },
    });
    let rest = json!({
        "pids_stats": { "current": usage.pids },
        "memory_stats": { "usage": usage.memory, "limit": usage.shown_memory_limit(), "stats": {} },
        "networks": { "eth0": { "rx_bytes": usage.net_rx, "tx_bytes": usage.net_tx, "rx_packets": 0, "tx_packets": 0, "rx_errors": 0, "tx_errors": 0, "rx_dropped": 0, "tx_dropped": 0 } },
        "blkio_stats": { "io_service_bytes_recursive": [
            { "major": 0, "minor": 0, "op": "read", "value": usage.block_read },
            { "major": 0, "minor": 0, "op": "write", "value": usage.block_write },
        ] },
    });
    (cpu, rest)
}

/// `stats`: a sample a second (`stream`, the default), or one with the CPU use of the
/// last half second (`stream=0`; at once with `one-shot=1`).
async fn stats(ctx: &Ctx, name: &str) -> ApiResult<Response<Body>> {
    let stream = ctx.query.get("stream").is_none() || ctx.query.flag("stream")?;
    let one_shot = ctx.query.flag("one-shot")?;
    let name = name.to_owned();
    let record = ctx.blocking(move |engine| find(engine, &name)).await?;
    let (tx, body) = channel();
    let engine = ctx.service.engine.clone();
    crate::body::spawn_long(move || {
        let empty_cpu = json!({ "cpu_usage": { "total_usage": 0 }, "system_cpu_usage": 0, "online_cpus": 0 });
        let mut pre = if one_shot || stream {
            empty_cpu.clone()
        } else {
            let (cpu, _) = sample(&engine, &record);
            std::thread::sleep(std::time::Duration::from_millis(500));
            cpu
        };
        let mut pre_read = lindocker_engine::now();
        loop {
            let live =
                engine.records().read(&record.id).map(|r| engine.reconcile(r).state.status.is_live()).unwrap_or(false);
            let (cpu, mut out) = if live { sample(&engine, &record) } else { (empty_cpu.clone(), json!({})) };
            let read = lindocker_engine::now();
            out["read"] = json!(read);
            out["preread"] = json!(pre_read);
            out["cpu_stats"] = cpu.clone();
            out["precpu_stats"] = pre;
            out["name"] = json!(format!("/{}", record.name));
            out["id"] = json!(record.id);
            if !tx.send_blocking(out.to_string() + "\n") || !stream || !live {
                return;
            }
            pre = cpu;
            pre_read = read;
            std::thread::sleep(std::time::Duration::from_secs(1));
        }
    });
    let mut response = Response::new(body);
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Ok(response)
}

/// `changes`: what differs from the image (Kind 0 changed, 1 added, 2 deleted).
async fn changes(ctx: &Ctx, name: &str) -> ApiResult<Response<Body>> {
    let name = name.to_owned();
    let list = ctx
        .blocking(move |engine| {
            let changes = engine.diff(&name)?;
            Ok(changes.iter().map(|c| json!({ "Path": c.path, "Kind": c.kind.api_kind() })).collect::<Vec<_>>())
        })
        .await?;
    json(StatusCode::OK, &list)
}

/// `export`: the container's filesystem as one tar, streamed.
async fn export(ctx: &Ctx, name: &str) -> ApiResult<Response<Body>> {
    let name = name.to_owned();
    let record = ctx.blocking(move |engine| find(engine, &name)).await?;
    let (tx, body) = channel();
    let engine = ctx.service.engine.clone();
    crate::body::spawn_long(move || {
        let mut out = crate::body::ChunkWriter::new(tx);
        // An error halfway ends the stream short: the client's tar reader says so.
        if engine.export(&record.id, &mut out).is_ok() {
            let _ = std::io::Write::flush(&mut out);
        }
    });
    let mut response = Response::new(body);
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/x-tar"));
    Ok(response)
}
