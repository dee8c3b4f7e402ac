//! `/_ping` (GET and HEAD), `/version`, `/info`: what clients ask first, to negotiate
//! the API version.

use hyper::body::Incoming;
use hyper::header::{CACHE_CONTROL, CONTENT_TYPE, HeaderValue, PRAGMA};
use hyper::{Method, Request, StatusCode};

use crate::body::full;
use crate::router::{Ctx, MAX_API_VERSION, MIN_API_VERSION, Routed, json, with_status};

/// `/_ping`, `/version`, `/info`.
pub async fn route(ctx: &Ctx, request: Request<Incoming>) -> Routed {
    let method = request.method().clone();
    match (&method, ctx.path().as_slice()) {
        (&Method::GET | &Method::HEAD, ["_ping"]) => {
            let body = if method == Method::HEAD { full("") } else { full("OK") };
            let mut response = with_status(StatusCode::OK, body);
            let headers = response.headers_mut();
            headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
            headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache, no-store, must-revalidate"));
            headers.insert(PRAGMA, HeaderValue::from_static("no-cache"));
            headers.insert("Builder-Version", HeaderValue::from_static("1"));
            Ok(Ok(response))
        }
        (&Method::GET, ["version"]) => {
            let (max, min) = (MAX_API_VERSION.to_string(), MIN_API_VERSION.to_string());
            Ok(json(StatusCode::OK, &lindocker_engine::hostinfo::version_json(Some((&max, &min)))))
        }
        (&Method::GET, ["info"]) => Ok(async {
            let info = ctx.blocking(|engine| Ok(engine.info_json(&engine.host_info()?))).await?;
            json(StatusCode::OK, &info)
        }
        .await),
        _ => Err(request),
    }
}
