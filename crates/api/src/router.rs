//! Every request: the `/v1.NN` prefix checked (API versions 1.41 to 1.50, as dockerd
//! negotiates them), then handed to each area's router in turn; errors become Docker's
//! `{"message": ...}` responses, and every response carries dockerd's headers.

use std::sync::Arc;

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use serde::de::DeserializeOwned;

use crate::Service;
use crate::body::{Body, full};
use crate::error::{ApiError, ApiResult};
use crate::query::Query;

/// The oldest API version served (Docker 20.10's).
pub const MIN_API_VERSION: ApiVersion = ApiVersion(1, 41);
/// The newest, and the one `/_ping` advertises: the docker CLI 28.2's default.
pub const MAX_API_VERSION: ApiVersion = ApiVersion(1, 50);

/// The largest JSON request body read (a create request with its config is a few kB).
pub const MAX_JSON_BODY: usize = 1 << 20;

/// An API version, major and minor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ApiVersion(pub u32, pub u32);

impl std::fmt::Display for ApiVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.0, self.1)
    }
}

impl std::str::FromStr for ApiVersion {
    type Err = ();
    fn from_str(s: &str) -> Result<ApiVersion, ()> {
        let (major, minor) = s.split_once('.').ok_or(())?;
        let number = |n: &str| if n.is_empty() || n.len() > 4 { Err(()) } else { n.parse::<u32>().map_err(|_| ()) };
        Ok(ApiVersion(number(major)?, number(minor)?))
    }
}

/// One request as the handlers see it: the version it speaks, its path in segments
/// (the version prefix removed, percent-decoded), its query.
pub struct Ctx {
    /// The shared service.
    pub service: Arc<Service>,
    /// The version of the path's prefix, or the newest.
    pub version: ApiVersion,
    /// The path's segments after the version (`["containers", "abc", "json"]`).
    pub segments: Vec<String>,
    /// The query.
    pub query: Query,
}

impl Ctx {
    /// The segments as `&str`, for matching.
    pub fn path(&self) -> Vec<&str> {
        self.segments.iter().map(String::as_str).collect()
    }

    /// Runs a blocking engine call off the runtime's thread.
    pub async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&lindocker_engine::Engine) -> ApiResult<T> + Send + 'static,
    ) -> ApiResult<T> {
        let engine = self.service.engine.clone();
        tokio::task::spawn_blocking(move || f(&engine))
            .await
            .unwrap_or_else(|e| Err(ApiError::internal(format!("the engine call failed: {e}"))))
    }
}

impl Ctx {
    /// As [`Ctx::blocking`], for a call that lasts as long as its client (reading a
    /// request body it sends at its own pace): on a thread of its own, see
    /// [`crate::body::spawn_long`].
    pub async fn long<T: Send + 'static>(
        &self,
        f: impl FnOnce(&lindocker_engine::Engine) -> ApiResult<T> + Send + 'static,
    ) -> ApiResult<T> {
        let engine = self.service.engine.clone();
        crate::body::spawn_long(move || f(&engine))
            .await
            .unwrap_or_else(|_| Err(ApiError::internal("no thread for the engine call")))
    }
}

/// What an area's router returns: a response, or the request back if not its path.
pub type Routed = Result<ApiResult<Response<Body>>, Request<Incoming>>;

/// Serves one request.
pub async fn handle(service: Arc<Service>, request: Request<Incoming>) -> Response<Body> {
    // `LINDOCKER_API_LOG=1`: one line per request on stderr (method, path, status).
    let log = std::env::var_os("LINDOCKER_API_LOG").map(|_| format!("{} {}", request.method(), request.uri()));
    let mut response = match route(service, request).await {
        Ok(response) => response,
        Err(e) => error_response(&e),
    };
    let headers = response.headers_mut();
    headers.insert("Api-Version", HeaderValue::from_static(MAX_VERSION_TEXT));
    headers.insert("Docker-Experimental", HeaderValue::from_static("false"));
    headers.insert("Ostype", HeaderValue::from_static("linux"));
    headers.insert("Server", HeaderValue::from_static(concat!("lindocker/", env!("CARGO_PKG_VERSION"), " (linux)")));
    if let Some(line) = log {
        eprintln!("{line} -> {}", response.status().as_u16());
    }
    response
}

const MAX_VERSION_TEXT: &str = "1.50";

async fn route(service: Arc<Service>, request: Request<Incoming>) -> ApiResult<Response<Body>> {
    let path = request.uri().path().to_owned();
    let mut segments = Vec::new();
    for s in path.split('/').filter(|s| !s.is_empty()) {
        segments.push(decode_segment(s)?);
    }
    let mut version = MAX_API_VERSION;
    if let Some(first) = segments.first()
        && let Some(text) = first.strip_prefix('v')
        && text.starts_with(|c: char| c.is_ascii_digit())
    {
        version = text.parse().map_err(|()| ApiError::bad(format!("invalid API version {text:?}")))?;
        check_version(text, version)?;
        segments.remove(0);
    }
    let query = Query::parse(request.uri().query())?;
    let ctx = Ctx { service, version, segments, query };
    let request = match crate::version::route(&ctx, request).await {
        Ok(done) => return done,
        Err(request) => request,
    };
    let request = match crate::containers::route(&ctx, request).await {
        Ok(done) => return done,
        Err(request) => request,
    };
    let request = match crate::exec::route(&ctx, request).await {
        Ok(done) => return done,
        Err(request) => request,
    };
    let request = match crate::build::route(&ctx, request).await {
        Ok(done) => return done,
        Err(request) => request,
    };
    // Images, networks and volumes, events and df.
    let request = match crate::images::route(&ctx, request).await {
        Ok(done) => return done,
        Err(request) => request,
    };
    let request = match crate::networks::route(&ctx, request).await {
        Ok(done) => return done,
        Err(request) => request,
    };
    let request = match crate::events::route(&ctx, request).await {
        Ok(done) => return done,
        Err(request) => request,
    };
    drop(request);
    Err(ApiError::not_found("page not found"))
}

/// Docker's answer to a version outside the range.
fn check_version(text: &str, version: ApiVersion) -> ApiResult<()> {
    if version < MIN_API_VERSION {
        return Err(ApiError::bad(format!(
            "client version {text} is too old. Minimum supported API version is {MIN_API_VERSION}, please upgrade your client to a newer version"
        )));
    }
    if version > MAX_API_VERSION {
        return Err(ApiError::bad(format!(
            "client version {text} is too new. Maximum supported API version is {MAX_API_VERSION}"
        )));
    }
    Ok(())
}

fn decode_segment(s: &str) -> ApiResult<String> {
    Query::parse(Some(&format!("x={}", s.replace('+', "%2B"))))?
        .get("x")
        .map(str::to_owned)
        .ok_or_else(|| ApiError::bad("bad path"))
}

/// Docker's error response.
pub fn error_response(e: &ApiError) -> Response<Body> {
    let body = serde_json::json!({ "message": e.message }).to_string() + "\n";
    let mut response = Response::new(full(body));
    *response.status_mut() = e.status;
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// A JSON response.
pub fn json(status: StatusCode, value: &impl serde::Serialize) -> ApiResult<Response<Body>> {
    let mut text = serde_json::to_vec(value).map_err(|e| ApiError::internal(e.to_string()))?;
    text.push(b'\n');
    let mut response = Response::new(full(text));
    *response.status_mut() = status;
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Ok(response)
}

/// 204 No Content.
pub fn no_content() -> ApiResult<Response<Body>> {
    let mut response = Response::new(crate::body::empty());
    *response.status_mut() = StatusCode::NO_CONTENT;
    Ok(response)
}

/// A response with a status and a body.
pub fn with_status(status: StatusCode, body: Body) -> Response<Body> {
    let mut response = Response::new(body);
    *response.status_mut() = status;
    response
}

/// The whole body, at most `limit` bytes (else 413... as Docker, a 400).
pub async fn read_body(request: Request<Incoming>, limit: usize) -> ApiResult<Bytes> {
    http_body_util::Limited::new(request.into_body(), limit)
        .collect()
        .await
        .map(|b| b.to_bytes())
        .map_err(|e| ApiError::bad(format!("reading the request body: {e} (at most {limit} bytes)")))
}

/// A JSON request's body (at most [`MAX_JSON_BODY`]), refused unless it says it is JSON
/// (dockerd's `CheckForJSON`): a web page can POST `text/plain` or a form to a service on
/// `tcp://127.0.0.1` without the browser asking first, but not `application/json`.
pub async fn read_json_body(request: Request<Incoming>) -> ApiResult<Bytes> {
    let content_type = request.headers().get(CONTENT_TYPE).map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    let body = read_body(request, MAX_JSON_BODY).await?;
    let mime = content_type.as_deref().unwrap_or_default().split(';').next().unwrap_or_default().trim();
    if !body.iter().all(u8::is_ascii_whitespace) && !mime.eq_ignore_ascii_case("application/json") {
        return Err(ApiError::bad(format!(
            "unsupported Content-Type header ({}): must be 'application/json'",
            content_type.unwrap_or_default()
        )));
    }
    Ok(body)
}

/// The body as JSON of type `T` (an empty body is `T`'s JSON `null`/default reading).
pub async fn read_json<T: DeserializeOwned>(request: Request<Incoming>) -> ApiResult<T> {
    let body = read_json_body(request).await?;
    let body: &[u8] = if body.iter().all(u8::is_ascii_whitespace) { b"{}" } else { &body };
    let mut de = serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(&mut de)
        .map_err(|e| ApiError::bad(format!("invalid JSON at {}: {}", e.path(), e.inner())))
}

/// Whether the request's method is one of `methods`.
pub fn is(request: &Request<Incoming>, method: &Method) -> bool {
    request.method() == method
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        assert_eq!("1.41".parse(), Ok(ApiVersion(1, 41)));
        assert!("1".parse::<ApiVersion>().is_err());
        assert!("1.x".parse::<ApiVersion>().is_err());
        assert!(check_version("1.40", ApiVersion(1, 40)).is_err());
        assert!(check_version("1.51", ApiVersion(1, 51)).is_err());
        assert!(check_version("1.44", ApiVersion(1, 44)).is_ok());
        assert_eq!(MAX_API_VERSION.to_string(), MAX_VERSION_TEXT);
    }
}
