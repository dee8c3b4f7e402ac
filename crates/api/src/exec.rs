//! The exec endpoints.

use hyper::Request;
use hyper::body::Incoming;

use crate::router::{Ctx, Routed};

/// Routes the exec endpoints.
pub async fn route(ctx: &Ctx, request: Request<Incoming>) -> Routed {
    let _ = ctx;
    Err(request)
}
