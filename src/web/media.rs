//! Serving stored customer photos: content-addressed names only, the content type read from
//! the bytes (never from a name), `nosniff`, and a policy that runs nothing inside.

use crate::media::MediaStore;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

/// The image named by `sha256`, or 404. Callers check who may see it first.
pub async fn media_response(media: &MediaStore, sha256: &str) -> Response {
    let bytes = match media.read(sha256).await {
        Ok(Some(bytes)) => bytes,
        Ok(None) => return StatusCode::NOT_FOUND.into_response(),
        Err(problem) => {
            tracing::error!(error = %problem, "reading a stored photo failed");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    let Some(content_type) = MediaStore::content_type_of(&bytes) else {
        // Stored files were checked on the way in; anything else is not served as an image.
        return StatusCode::NOT_FOUND.into_response();
    };
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::CONTENT_SECURITY_POLICY, "default-src 'none'; sandbox"),
            (header::CACHE_CONTROL, "private, max-age=86400, immutable"),
            (header::CONTENT_DISPOSITION, "inline"),
        ],
        bytes,
    )
        .into_response()
}
