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
    fn from(e: EngineError) -> ApiError {
        use lindocker_image::ImageError;
        let message = e.to_string();
        let status = match &e {
            EngineError::NoSuchContainer(_) | EngineError::NoSuchVolume(_) | EngineError::NotFound(_) => {
                StatusCode::NOT_FOUND
            }
            EngineError::NameInUse { .. } | EngineError::State(_) => StatusCode::CONFLICT,
            EngineError::Ambiguous(_)
            | EngineError::BadOption { .. }
            | EngineError::NoSuchUser { .. }
            | EngineError::Invalid(_) => StatusCode::BAD_REQUEST,
            EngineError::Image(ImageError::NoSuchImage(_)) => StatusCode::NOT_FOUND,
            EngineError::Image(
                ImageError::BadReference { .. } | ImageError::Ambiguous(_) | ImageError::BadPlatform(_),
            ) => StatusCode::BAD_REQUEST,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        ApiError { status, message }
    }
}

/// A result of a handler.
pub type ApiResult<T> = Result<T, ApiError>;
