//! The image endpoints: list, pull (`/images/create`, Docker's JSON progress stream), push,
//! inspect, history, tag, delete, prune, save (`/images/get`), load; and `/auth`. Names
//! may hold slashes (`registry:5000/team/app:1`), so a name is every segment between
//! `images` and the verb.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use bytes::Bytes;
use hyper::body::Incoming;
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use lindocker_engine::image_filter::ImageFilter;
use lindocker_engine::images::ImageDeleteItem;
use lindocker_image::progress::{Progress, PullEvent};
use lindocker_image::push::PushOptions;
use lindocker_image::registry::{Platform, PullOptions};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::body::{Body, channel};
use crate::error::{ApiError, ApiResult};
use crate::filter_map::{self, engine_error};
use crate::router::{Ctx, Routed, json as json_response, read_json, with_status};

/// Routes `/images/...` and `/auth`.
pub async fn route(ctx: &Ctx, request: Request<Incoming>) -> Routed {
    let method = request.method().clone();
    let path = ctx.path();
    if path == ["auth"] && method == Method::POST {
        return Ok(auth(ctx, request).await);
    }
    let Some((&"images", rest)) = path.split_first() else { return Err(request) };
    let name = |parts: &[&str]| parts.join("/");
    let result = match (&method, rest) {
        (&Method::GET, ["json"]) => list(ctx).await,
        (&Method::POST, ["create"]) if ctx.query.get("fromSrc").is_some_and(|s| !s.is_empty()) => {
            import(ctx, request).await
        }
        (&Method::POST, ["create"]) => pull(ctx, &request),
        (&Method::POST, ["load"]) => load(ctx, request).await,
        (&Method::POST, ["prune"]) => prune(ctx).await,
        (&Method::GET, ["get"]) => {
            let names: Vec<String> = ctx.query.all("names").into_iter().map(str::to_owned).collect();
            save(ctx, names).await
        }
        (&Method::GET, [image @ .., "json"]) if !image.is_empty() => {
            let image = name(image);
            ctx.blocking(move |e| e.image_ops().inspect(&image).map_err(engine_error))
                .await
                .and_then(|v| json_response(StatusCode::OK, &v))
        }
        (&Method::GET, [image @ .., "history"]) if !image.is_empty() => {
            let image = name(image);
            ctx.blocking(move |e| e.image_ops().history(&image).map_err(engine_error))
                .await
                .and_then(|v| json_response(StatusCode::OK, &v))
        }
        (&Method::POST, [image @ .., "tag"]) if !image.is_empty() => tag(ctx, name(image)).await,
        (&Method::GET, [image @ .., "get"]) if !image.is_empty() => save(ctx, vec![name(image)]).await,
        (&Method::POST, [image @ .., "push"]) if !image.is_empty() => push(ctx, &request, name(image)),
        (&Method::DELETE, image) if !image.is_empty() => remove(ctx, name(image)).await,
        _ => return Err(request),
    };
    Ok(result)
}

/// `GET /images/json`: `all`, `filters` (`reference`, `dangling`, `label`, `before`,
/// `since`, `until`).
async fn list(ctx: &Ctx) -> ApiResult<Response<Body>> {
    let all = ctx.query.flag("all")?;
    let filters = filter_map::filters(&ctx.query)?;
    let pairs: Vec<(String, String)> =
        filters.into_iter().flat_map(|(k, vs)| vs.into_iter().map(move |v| (k.clone(), v))).collect();
    let images = ctx
        .blocking(move |e| {
            let ops = e.image_ops();
            let filter = ImageFilter::parse(&pairs, &ops).map_err(engine_error)?;
            ops.summaries(all, None, &filter).map_err(engine_error)
        })
        .await?;
    json_response(StatusCode::OK, &images)
}

/// One JSON line of a stream.
fn line(value: &Value) -> Bytes {
    let mut text = serde_json::to_vec(value).expect("JSON serialises");
    text.push(b'\n');
    Bytes::from(text)
}

/// Docker's last line of a stream that failed.
fn error_line(message: &str) -> Bytes {
    line(&json!({ "errorDetail": { "message": message }, "error": message }))
}

/// Docker's `[====>     ]` bar for `current` of `total`.
fn bar(current: u64, total: u64) -> String {
    let width = 50u64;
    let filled = (current.min(total) * width).checked_div(total).unwrap_or(0);
    let mut text = "=".repeat(filled as usize);
    if filled < width {
        text.push('>');
        text.push_str(&" ".repeat((width - filled - 1) as usize));
    }
    format!("[{text}] {current}B/{total}B")
}

/// A pull step as Docker's progress JSON.
pub fn progress_json(event: &PullEvent) -> Value {
    match event {
        PullEvent::Status { status, id: Some(id) } => json!({ "status": status, "id": id }),
        PullEvent::Status { status, id: None } => json!({ "status": status }),
        PullEvent::Layer { id, status, progress: Some((current, total)) } => json!({
            "status": status,
            "progressDetail": { "current": current, "total": total },
            "progress": bar(*current, *total),
            "id": id,
        }),
        PullEvent::Layer { id, status, progress: None } => json!({ "status": status, "progressDetail": {}, "id": id }),
    }
}

/// `POST /images/create?fromImage=&tag=&platform=`: the pull, streamed as JSON lines;
/// a failure is the stream's last line, as dockerd sends it once it has begun.
fn pull(ctx: &Ctx, request: &Request<Incoming>) -> ApiResult<Response<Body>> {
    if ctx.query.get("fromSrc").is_some_and(|s| !s.is_empty()) {
        return Err(ApiError::not_implemented(
            "importing through /images/create is not supported; use `lindocker import`",
        ));
    }
    let from =
        ctx.query.get("fromImage").filter(|s| !s.is_empty()).ok_or_else(|| ApiError::bad("fromImage is required"))?;
    let tag = ctx.query.get("tag").unwrap_or_default();
    let name = match tag {
        "" => from.to_owned(),
        t if t.starts_with("sha256:") => format!("{from}@{t}"),
        t => format!("{from}:{t}"),
    };
    lindocker_image::reference::parse(&name).map_err(|e| ApiError::bad(e.to_string()))?;
    let platform = match ctx.query.get("platform").filter(|p| !p.is_empty()) {
        Some(p) => Platform::parse(p).map_err(|e| ApiError::bad(e.to_string()))?,
        None => Platform::host(),
    };
    let options = PullOptions { platform, insecure: Vec::new() };
    // The client's credentials for this pull (the docker CLI sends what `docker login`
    // stored); without, lindocker's own.
    let credentials = registry_auth(request)?;
    let images = ctx.service.engine.image_ops();
    Ok(progress_stream(move |progress| images.pull_as(&name, &options, progress, credentials).map(|_| Vec::new())))
}

/// The credentials of the request's `X-Registry-Auth` header, if it has some.
fn registry_auth(request: &Request<Incoming>) -> ApiResult<Option<(String, String)>> {
    let header = request.headers().get("x-registry-auth").map(|v| v.to_str().unwrap_or("\u{0}"));
    Ok(header
        .map(lindocker_image::auth::decode_registry_auth)
        .transpose()
        .map_err(|e| ApiError::bad(e.to_string()))?
        .flatten())
}

/// `POST /images/{name}/push?tag=`: the push (every tag of the repository when `tag` is
/// empty, as dockerd does for `docker push -a`), streamed as JSON lines with an `aux`
/// line per tag pushed (`Tag`, `Digest`, `Size`).
fn push(ctx: &Ctx, request: &Request<Incoming>, image: String) -> ApiResult<Response<Body>> {
    let tag = ctx.query.get("tag").unwrap_or_default();
    let name = if tag.is_empty() { image } else { format!("{image}:{tag}") };
    lindocker_image::reference::parse(&name).map_err(|e| ApiError::bad(e.to_string()))?;
    let platform = match ctx.query.get("platform").filter(|p| !p.is_empty()) {
        Some(p) => Some(Platform::parse(p).map_err(|e| ApiError::bad(e.to_string()))?),
        None => None,
    };
    let options = PushOptions { insecure: Vec::new(), all_tags: tag.is_empty(), platform };
    let credentials = registry_auth(request)?;
    let images = ctx.service.engine.image_ops();
    Ok(progress_stream(move |progress| {
        let pushed = images.push(&name, &options, progress, credentials)?;
        Ok::<_, lindocker_engine::EngineError>(
            pushed
                .into_iter()
                .map(|p| json!({ "progressDetail": {}, "aux": { "Tag": p.tag, "Digest": p.digest, "Size": p.size } }))
                .collect(),
        )
    }))
}

/// Runs `job` on a long-running thread, its progress (and then the lines it returns, or
/// its error) streamed as Docker's JSON lines.
fn progress_stream<E: std::fmt::Display>(
    job: impl FnOnce(&Progress) -> Result<Vec<Value>, E> + Send + 'static,
) -> Response<Body> {
    let (sender, body) = channel();
    // The progress callback runs inside the job's own runtime: it only queues (never
    // blocks); a task forwards at the client's pace.
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Bytes>();
    tokio::spawn(async move {
        while let Some(chunk) = rx.recv().await {
            if !sender.send(chunk).await {
                break;
            }
        }
    });
    crate::body::spawn_long(move || {
        let last: Mutex<HashMap<String, Instant>> = Mutex::new(HashMap::new());
        let events = tx.clone();
        let progress = Progress::events(move |event| {
            // Byte counts at most ten times a second per layer (the last one always).
            if let PullEvent::Layer { id, progress: Some((current, total)), .. } = &event {
                let mut last = last.lock().unwrap_or_else(|e| e.into_inner());
                let now = Instant::now();
                let recent = last.get(id).is_some_and(|t| now.duration_since(*t) < Duration::from_millis(100));
                if recent && current < total {
                    return;
                }
                last.insert(id.clone(), now);
            }
            let _ = events.send(line(&progress_json(&event)));
        });
        match job(&progress) {
            Ok(lines) => {
                for value in lines {
                    let _ = tx.send(line(&value));
                }
            }
            Err(e) => {
                let _ = tx.send(error_line(&e.to_string()));
            }
        }
    });
    let mut response = with_status(StatusCode::OK, body);
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// `POST /images/create?fromSrc=-&repo=&tag=&changes=&message=`: the body is a root
/// filesystem tar (`docker import`). A URL source is refused: the service fetches
/// nothing a client names.
async fn import(ctx: &Ctx, request: Request<Incoming>) -> ApiResult<Response<Body>> {
    if ctx.query.get("fromSrc") != Some("-") {
        return Err(ApiError::not_implemented("import from a URL is not supported; send the archive (fromSrc=-)"));
    }
    let name = match (ctx.query.get("repo").filter(|r| !r.is_empty()), ctx.query.get("tag").filter(|t| !t.is_empty())) {
        (Some(repo), Some(tag)) => Some(format!("{repo}:{tag}")),
        (Some(repo), None) => Some(repo.to_owned()),
        (None, _) => None,
    };
    if let Some(name) = &name {
        lindocker_image::reference::parse(name).map_err(|e| ApiError::bad(e.to_string()))?;
    }
    let changes: Vec<String> = ctx.query.all("changes").into_iter().map(str::to_owned).collect();
    let message = ctx.query.get("message").filter(|m| !m.is_empty()).map(str::to_owned);
    let reader = crate::pipes::reader(request.into_body());
    let image = ctx
        .long(move |e| {
            e.image_ops().import(reader, name.as_deref(), &changes, message.as_deref()).map_err(engine_error)
        })
        .await?;
    let mut response = with_status(StatusCode::OK, crate::body::full(line(&json!({ "status": image.id }))));
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Ok(response)
}

/// `POST /images/{name}/tag?repo=&tag=`.
async fn tag(ctx: &Ctx, image: String) -> ApiResult<Response<Body>> {
    let repo = ctx.query.get("repo").filter(|r| !r.is_empty()).ok_or_else(|| ApiError::bad("repo is required"))?;
    let target = match ctx.query.get("tag").filter(|t| !t.is_empty()) {
        Some(t) => format!("{repo}:{t}"),
        None => repo.to_owned(),
    };
    ctx.blocking(move |e| e.image_ops().tag(&image, &target).map(|_| ()).map_err(engine_error)).await?;
    Ok(with_status(StatusCode::CREATED, crate::body::empty()))
}

/// `DELETE /images/{name}?force=&noprune=`.
async fn remove(ctx: &Ctx, image: String) -> ApiResult<Response<Body>> {
    let force = ctx.query.flag("force")?;
    let noprune = ctx.query.flag("noprune")?;
    let items: Vec<ImageDeleteItem> =
        ctx.blocking(move |e| e.image_ops().remove(&image, force, noprune).map_err(engine_error)).await?;
    json_response(StatusCode::OK, &items)
}

/// `POST /images/prune?filters=`: `dangling=false` prunes every unused image.
async fn prune(ctx: &Ctx) -> ApiResult<Response<Body>> {
    let filters = filter_map::filters(&ctx.query)?;
    if let Some(key) = filters.keys().find(|k| k.as_str() != "dangling") {
        return Err(ApiError::bad(format!("invalid filter '{key}'")));
    }
    let all = filter_map::boolean(&filters, "dangling")? == Some(false);
    let report = ctx.blocking(move |e| e.image_ops().prune(all).map_err(engine_error)).await?;
    json_response(StatusCode::OK, &report)
}

/// `GET /images/get?names=` and `GET /images/{name}/get`: one archive of them all.
async fn save(ctx: &Ctx, names: Vec<String>) -> ApiResult<Response<Body>> {
    if names.is_empty() {
        return Err(ApiError::bad("no image names given"));
    }
    // Every name is found before the first byte goes out: a missing one is a 404.
    let checked = names.clone();
    ctx.blocking(move |e| {
        let ops = e.image_ops();
        for name in &checked {
            ops.store().find(name).map_err(|err| engine_error(err.into()))?;
        }
        Ok(())
    })
    .await?;
    let images = ctx.service.engine.image_ops();
    let (sender, body) = channel();
    crate::body::spawn_long(move || {
        let mut out = crate::pipes::BodyWriter::new(sender);
        // A failure half-way can only cut the archive short: the client sees it end.
        if images.save(&names, &mut out).is_ok() {
            let _ = std::io::Write::flush(&mut out);
        }
    });
    let mut response = with_status(StatusCode::OK, body);
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/x-tar"));
    Ok(response)
}

/// `POST /images/load?quiet=`: the archive is the body; the answer Docker's JSON lines.
async fn load(ctx: &Ctx, request: Request<Incoming>) -> ApiResult<Response<Body>> {
    let reader = crate::pipes::reader(request.into_body());
    let loaded = ctx.long(move |e| e.image_ops().load(reader).map_err(engine_error)).await?;
    let mut text = Vec::new();
    for image in loaded {
        if image.names.is_empty() {
            text.extend_from_slice(&line(&json!({ "stream": format!("Loaded image ID: {}\n", image.image.id) })));
        }
        for name in image.names {
            let shown = lindocker_image::reference::familiar(&name).to_owned();
            text.extend_from_slice(&line(&json!({ "stream": format!("Loaded image: {shown}\n") })));
        }
    }
    let mut response = with_status(StatusCode::OK, crate::body::full(text));
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Ok(response)
}

/// `POST /auth`'s body.
#[derive(Debug, Deserialize)]
struct AuthConfig {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    serveraddress: String,
}

/// The registry host an auth request names (`https://index.docker.io/v1/` is Docker Hub).
fn registry_host(address: &str) -> String {
    let host = address.trim_start_matches("https://").trim_start_matches("http://");
    let host = host.split('/').next().unwrap_or_default();
    match host {
        "" | "index.docker.io" | "registry-1.docker.io" => "docker.io".into(),
        other => other.to_owned(),
    }
}

/// `POST /auth`: checks the credentials against the registry (stores nothing: the client
/// keeps them); a refusal is a 401.
async fn auth(ctx: &Ctx, request: Request<Incoming>) -> ApiResult<Response<Body>> {
    let config: AuthConfig = read_json(request).await?;
    if config.username.is_empty() {
        return Err(ApiError::bad("username is required"));
    }
    let registry = registry_host(&config.serveraddress);
    ctx.blocking(move |_| {
        lindocker_image::registry::check_credentials(&registry, &config.username, &config.password, &[])
            .map_err(|e| ApiError { status: StatusCode::UNAUTHORIZED, message: e.to_string() })
    })
    .await?;
    json_response(StatusCode::OK, &json!({ "Status": "Login Succeeded", "IdentityToken": "" }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_lines_are_dockers() {
        let status = PullEvent::Status { status: "Pulling from library/busybox".into(), id: Some("latest".into()) };
        assert_eq!(progress_json(&status), json!({ "status": "Pulling from library/busybox", "id": "latest" }));
        let down = PullEvent::Layer { id: "abc".into(), status: "Downloading".into(), progress: Some((5, 10)) };
        let v = progress_json(&down);
        assert_eq!(v["progressDetail"], json!({ "current": 5, "total": 10 }));
        assert!(v["progress"].as_str().unwrap().starts_with("[=========================>"));
        assert_eq!(bar(0, 0).len(), "[>".len() + 49 + "] 0B/0B".len());
    }

    #[test]
    fn registry_hosts() {
        assert_eq!(registry_host("https://index.docker.io/v1/"), "docker.io");
        assert_eq!(registry_host("127.0.0.1:5000"), "127.0.0.1:5000");
        assert_eq!(registry_host("http://127.0.0.1:5000/v2/"), "127.0.0.1:5000");
        assert_eq!(registry_host(""), "docker.io");
    }
}
