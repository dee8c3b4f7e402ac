//! Docker's error shape: `{"message": "..."}` with the status code clients test for
//! (404 no such object, 409 conflict, 400 bad parameter, 500 engine).

use hyper::StatusCode;
use lindocker_engine::EngineError;

/// An error as the API reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// The message (Docker's wording where clients match it).
    pub message: String,
}

impl ApiError {
    /// 400: the request is wrong.
    pub fn bad(message: impl Into<String>) -> ApiError {
        ApiError { status: StatusCode::BAD_REQUEST, message: message.into() }
    }

    /// 403: refused whatever it asks.
    pub fn forbidden(message: impl Into<String>) -> ApiError {
        ApiError { status: StatusCode::FORBIDDEN, message: message.into() }
    }

    /// 404.
    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError { status: StatusCode::NOT_FOUND, message: message.into() }
    }

    /// 409: the object's state forbids it.
    pub fn conflict(message: impl Into<String>) -> ApiError {
        ApiError { status: StatusCode::CONFLICT, message: message.into() }
    }

    /// 500: the engine failed.
    pub fn internal(message: impl Into<String>) -> ApiError {
        ApiError { status: StatusCode::INTERNAL_SERVER_ERROR, message: message.into() }
    }

    /// 501: lindocker does not do this.
    pub fn not_implemented(message: impl Into<String>) -> ApiError {
        ApiError { status: StatusCode::NOT_IMPLEMENTED, message: message.into() }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<EngineError> for ApiError {
    /// The status is the engine's kind of failure ([`EngineError::kind`]), as dockerd's
    /// errdefs map to HTTP.
    fn from(e: EngineError) -> ApiError {
        let status = StatusCode::from_u16(e.kind().http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        ApiError { status, message: e.to_string() }
    }
}

/// A result of a handler.
pub type ApiResult<T> = Result<T, ApiError>;
