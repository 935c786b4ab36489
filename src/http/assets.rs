//! The web client: the files in `web/`, embedded in release builds (read from disk in
//! debug builds, so the client can be worked on without rebuilding the server).
//! Unknown paths that a browser asks for as a page get `index.html`: the client routes.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use rust_embed::RustEmbed;

use crate::error::Error;

#[derive(RustEmbed)]
#[folder = "web/"]
struct Assets;

/// The router's fallback: a web client file, the client's page, or a JSON 404.
pub async fn fallback(req: Request) -> Response {
    let path = req.uri().path().trim_start_matches('/');
    let wants_page = req.method() == Method::GET
        && req
            .headers()
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|accept| accept.contains("text/html"));
    let if_none_match = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok());
    if req.method() == Method::GET || req.method() == Method::HEAD {
        if let Some(response) = asset(
            if path.is_empty() { "index.html" } else { path },
            if_none_match,
        ) {
            return response;
        }
        if wants_page && let Some(response) = asset("index.html", if_none_match) {
            return response;
        }
    }
    Error::NotFound("Not Found".into()).into_response()
}

fn asset(path: &str, if_none_match: Option<&str>) -> Option<Response> {
    let file = Assets::get(path)?;
    let mime = file.metadata.mimetype();
    // Pages are checked on every load; scripts and styles revalidate by ETag.
    let etag = format!(
        "\"{}\"",
        file.metadata
            .sha256_hash()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    );
    if if_none_match == Some(etag.as_str()) {
        return Some(StatusCode::NOT_MODIFIED.into_response());
    }
    let mut response = (StatusCode::OK, Body::from(file.data.into_owned())).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(mime).unwrap_or(HeaderValue::from_static("application/octet-stream")),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if let Ok(etag) = HeaderValue::from_str(&etag) {
        headers.insert(header::ETAG, etag);
    }
    Some(response)
}
