//! `GET /events` (the event journal as JSON lines: stored ones with `since`, live ones
//! until `until` or until the client goes) and `GET /system/df`.

use std::time::Duration;

use bytes::Bytes;
use hyper::body::Incoming;
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use lindocker_engine::events::EventQuery;

use crate::body::{Body, channel};
use crate::error::{ApiError, ApiResult};
use crate::filter_map::{self, engine_error};
use crate::router::{Ctx, Routed, json as json_response, with_status};

/// How often the journal is looked at while following it.
const POLL: Duration = Duration::from_millis(100);

/// Routes `/events` and `/system/df`.
pub async fn route(ctx: &Ctx, request: Request<Incoming>) -> Routed {
    let result = match (request.method(), ctx.path().as_slice()) {
        (&Method::GET, ["events"]) => events(ctx),
        (&Method::GET, ["system", "df"]) => {
            ctx.blocking(|e| e.disk_usage().map_err(engine_error)).await.and_then(|u| json_response(StatusCode::OK, &u))
        }
        _ => return Err(request),
    };
    Ok(result)
}

fn events(ctx: &Ctx) -> ApiResult<Response<Body>> {
    let filters = filter_map::pairs(&filter_map::filters(&ctx.query)?);
    let nonempty = |key: &str| ctx.query.get(key).filter(|v| !v.is_empty());
    let query = EventQuery::parse(nonempty("since"), nonempty("until"), &filters).map_err(ApiError::bad)?;
    let mut stream = ctx.service.engine.event_stream(query);
    let (sender, body) = channel();
    // A task, not a blocking thread: a poll is a short read of a local file, and a
    // follower waits most of its life; hundreds of followers hold no threads.
    tokio::spawn(async move {
        loop {
            for event in stream.next_batch() {
                let mut text = serde_json::to_vec(&event).expect("an event serialises");
                text.push(b'\n');
                if !sender.send(Bytes::from(text)).await {
                    return;
                }
            }
            if stream.finished() || sender.is_closed() {
                return;
            }
            tokio::time::sleep(POLL).await;
        }
    });
    let mut response = with_status(StatusCode::OK, body);
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Ok(response)
}
