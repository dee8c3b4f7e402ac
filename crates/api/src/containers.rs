//! The containers endpoints.

use hyper::Request;
use hyper::body::Incoming;

use crate::router::{Ctx, Routed};

/// Routes the containers endpoints.
pub async fn route(ctx: &Ctx, request: Request<Incoming>) -> Routed {
    let _ = ctx;
    Err(request)
}
