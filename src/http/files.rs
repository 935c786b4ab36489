//! `/files`: upload (multipart, streamed), download and thumbnails. Thin handlers over
//! `crate::files`; this file only speaks HTTP: ranges, caching and safe headers.

use axum::body::Body;
use axum::extract::multipart::Field;
use axum::extract::{DefaultBodyLimit, Multipart, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouterExt};
use utoipa_axum::routes;

use super::{ErrorBody, ValidationErrorBody};
use crate::auth::{self, AuthUser};
use crate::chats::{self, Chat};
use crate::error::{Error, Result};
use crate::files::storage::{blob_key, thumb_key};
use crate::files::{self, FileView, inline_safe};
use crate::state::AppState;
use crate::store::FileRow;
use crate::users::{self, Profile};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        // Uploads are limited by `file_max_bytes` as they stream, not by the body limit.
        .routes(routes!(upload).layer(DefaultBodyLimit::disable()))
        .routes(routes!(download))
        .routes(routes!(thumbnail))
        .routes(routes!(set_my_avatar, remove_my_avatar).layer(DefaultBodyLimit::disable()))
        .routes(routes!(set_chat_avatar, remove_chat_avatar).layer(DefaultBodyLimit::disable()))
}

/// Hands the multipart field named `file` (skipping any others) and its name to `then`.
async fn with_file_field<T>(
    multipart: &mut Multipart,
    then: impl AsyncFnOnce(Option<String>, Field<'_>) -> Result<T>,
) -> Result<T> {
    let bad = |msg: String| Error::invalid("file", msg, "");
    while let Some(field) = multipart
        .next_field()
        .await
        .map_err(|e| bad(format!("bad multipart body: {e}")))?
    {
        if field.name() == Some("file") {
            let name = field.file_name().map(str::to_string);
            return then(name, field).await;
        }
    }
    Err(bad("a multipart field named `file` is required".into()))
}

/// Upload your avatar (multipart, field `file`: JPEG, PNG, GIF or WebP).
#[utoipa::path(put, path = "/users/me/avatar", tag = "users", security(("bearer" = [])),
    request_body(content_type = "multipart/form-data", description = "A `file` field"),
    responses(
        (status = 200, description = "Your profile, with its new avatar_url", body = Profile),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 413, description = "Too large, or storage quota reached", body = ErrorBody),
        (status = 415, description = "Not an image", body = ErrorBody),
        (status = 422, description = "No file field, or too many pixels", body = ValidationErrorBody),
    ))]
async fn set_my_avatar(
    State(state): State<AppState>,
    auth: AuthUser,
    mut multipart: Multipart,
) -> Result<axum::Json<Profile>> {
    let stored = with_file_field(&mut multipart, async |name, field| {
        files::upload_avatar(&state, &auth, name.as_deref(), field).await
    })
    .await?;
    Ok(axum::Json(
        users::set_avatar(&state, &auth, Some(stored)).await?,
    ))
}

/// Remove your avatar.
#[utoipa::path(delete, path = "/users/me/avatar", tag = "users", security(("bearer" = [])),
    responses(
        (status = 200, description = "Your profile", body = Profile),
        (status = 401, description = "Not authenticated", body = ErrorBody),
    ))]
async fn remove_my_avatar(
    State(state): State<AppState>,
    auth: AuthUser,
) -> Result<axum::Json<Profile>> {
    Ok(axum::Json(users::set_avatar(&state, &auth, None).await?))
}

/// Upload a group's avatar (who may: as for editing the group's info).
#[utoipa::path(put, path = "/chats/{chat_id}/avatar", tag = "chats", security(("bearer" = [])),
    params(("chat_id" = String, Path, description = "Chat id")),
    request_body(content_type = "multipart/form-data", description = "A `file` field"),
    responses(
        (status = 200, description = "The chat", body = Chat),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Not allowed to edit this chat's info, or a direct chat", body = ErrorBody),
        (status = 404, description = "No such chat, or not a member", body = ErrorBody),
        (status = 415, description = "Not an image", body = ErrorBody),
    ))]
async fn set_chat_avatar(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(chat_id): Path<String>,
    mut multipart: Multipart,
) -> Result<axum::Json<Chat>> {
    // Refused before anything is uploaded.
    chats::check_may_edit_info(&state, &auth, &chat_id).await?;
    let stored = with_file_field(&mut multipart, async |name, field| {
        files::upload_avatar(&state, &auth, name.as_deref(), field).await
    })
    .await?;
    Ok(axum::Json(
        chats::set_avatar(&state, &auth, &chat_id, Some(stored)).await?,
    ))
}

/// Remove a group's avatar.
#[utoipa::path(delete, path = "/chats/{chat_id}/avatar", tag = "chats", security(("bearer" = [])),
    params(("chat_id" = String, Path, description = "Chat id")),
    responses(
        (status = 200, description = "The chat", body = Chat),
        (status = 403, description = "Not allowed to edit this chat's info", body = ErrorBody),
        (status = 404, description = "No such chat, or not a member", body = ErrorBody),
    ))]
async fn remove_chat_avatar(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(chat_id): Path<String>,
) -> Result<axum::Json<Chat>> {
    Ok(axum::Json(
        chats::set_avatar(&state, &auth, &chat_id, None).await?,
    ))
}

/// Upload a file (multipart, field `file`). Attach it to a message with
/// `attachments: [id]` when sending.
#[utoipa::path(post, path = "/files", tag = "files", security(("bearer" = [])),
    request_body(content_type = "multipart/form-data", description = "A `file` field"),
    responses(
        (status = 201, description = "Stored", body = FileView),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 413, description = "Too large, or storage quota reached", body = ErrorBody),
        (status = 415, description = "A blocked type", body = ErrorBody),
        (status = 422, description = "No file field, empty, or an image with too many pixels", body = ValidationErrorBody),
    ))]
async fn upload(
    State(state): State<AppState>,
    auth: AuthUser,
    mut multipart: Multipart,
) -> Result<(StatusCode, axum::Json<FileView>)> {
    let view = with_file_field(&mut multipart, async |name, field| {
        files::upload(&state, &auth, name.as_deref(), field).await
    })
    .await?;
    Ok((StatusCode::CREATED, axum::Json(view)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct SignedQuery {
    /// From a signed URL: when it expires (Unix seconds).
    expires: Option<i64>,
    /// From a signed URL: its signature.
    sig: Option<String>,
}

/// Download a file: with a bearer token (the uploader, or a member of a chat where it
/// was shared), or through a signed URL from a message. Supports `Range` and
/// `If-None-Match`.
#[utoipa::path(get, path = "/files/{file_id}", tag = "files",
    params(("file_id" = String, Path, description = "File id"), SignedQuery),
    responses(
        (status = 200, description = "The bytes"),
        (status = 206, description = "The requested range"),
        (status = 304, description = "Not modified"),
        (status = 403, description = "Invalid or expired signed URL", body = ErrorBody),
        (status = 404, description = "No such file, or not yours to see", body = ErrorBody),
        (status = 416, description = "Range not satisfiable"),
    ))]
async fn download(
    State(state): State<AppState>,
    Path(file_id): Path<String>,
    Query(query): Query<SignedQuery>,
    headers: HeaderMap,
) -> Result<Response> {
    let file = find(&state, &file_id, "file", &query, &headers).await?;
    let disposition = if inline_safe(&file.content_type) {
        "inline"
    } else {
        "attachment"
    };
    let key = blob_key(&file.sha256);
    let etag = format!("\"{}\"", file.sha256);
    serve(
        &state,
        &key,
        &file,
        &file.content_type,
        disposition,
        &etag,
        file.size as u64,
        &headers,
    )
    .await
}

/// A small preview of an image (JPEG, or PNG when it has transparency).
#[utoipa::path(get, path = "/files/{file_id}/thumbnail", tag = "files",
    params(("file_id" = String, Path, description = "File id"), SignedQuery),
    responses(
        (status = 200, description = "The thumbnail"),
        (status = 304, description = "Not modified"),
        (status = 403, description = "Invalid or expired signed URL", body = ErrorBody),
        (status = 404, description = "No such file, no thumbnail, or not yours to see", body = ErrorBody),
    ))]
async fn thumbnail(
    State(state): State<AppState>,
    Path(file_id): Path<String>,
    Query(query): Query<SignedQuery>,
    headers: HeaderMap,
) -> Result<Response> {
    let file = find(&state, &file_id, "thumbnail", &query, &headers).await?;
    if !file.has_thumbnail {
        return Err(Error::NotFound("This file has no thumbnail".into()));
    }
    let key = thumb_key(&file.sha256);
    let bytes = state
        .files
        .storage
        .get(&key, None)
        .await
        .map_err(Error::Internal)?;
    let body = collect(bytes).await?;
    let content_type = files::preview::thumbnail_type(&body);
    let etag = format!("\"t-{}\"", file.sha256);
    if not_modified(&headers, &etag) {
        return Ok(not_modified_response(&etag));
    }
    let mut response = Response::new(Body::from(body));
    common_headers(
        response.headers_mut(),
        content_type,
        "inline",
        &file.name,
        &etag,
    );
    Ok(response)
}

/// The file, by signed URL when the query carries one, else by bearer token.
async fn find(
    state: &AppState,
    file_id: &str,
    variant: &str,
    query: &SignedQuery,
    headers: &HeaderMap,
) -> Result<FileRow> {
    match (&query.expires, &query.sig) {
        (Some(expires), Some(sig)) => files::signed(state, file_id, variant, *expires, sig).await,
        _ => {
            let token = headers
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.split_once(' '))
                .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
                .map(|(_, token)| token.trim())
                .ok_or_else(Error::unauthorized)?;
            let user = auth::authenticate(state, token).await?;
            files::visible(state, &user, file_id).await
        }
    }
}

async fn collect(
    mut stream: futures_util::stream::BoxStream<'static, std::io::Result<bytes::Bytes>>,
) -> Result<Vec<u8>> {
    use futures_util::StreamExt;
    let mut all = Vec::new();
    while let Some(chunk) = stream.next().await {
        all.extend_from_slice(&chunk.map_err(|e| Error::Internal(e.into()))?);
    }
    Ok(all)
}

#[allow(clippy::too_many_arguments)]
async fn serve(
    state: &AppState,
    key: &str,
    file: &FileRow,
    content_type: &str,
    disposition: &str,
    etag: &str,
    size: u64,
    headers: &HeaderMap,
) -> Result<Response> {
    if not_modified(headers, etag) {
        return Ok(not_modified_response(etag));
    }
    let range = match headers.get(header::RANGE).and_then(|v| v.to_str().ok()) {
        Some(value) => match parse_range(value, size) {
            Some(range) => Some(range),
            None => {
                let mut response = StatusCode::RANGE_NOT_SATISFIABLE.into_response();
                let all = header_value(&format!("bytes */{size}"))?;
                response.headers_mut().insert(header::CONTENT_RANGE, all);
                return Ok(response);
            }
        },
        None => None,
    };
    let stream = state
        .files
        .storage
        .get(key, range.clone())
        .await
        .map_err(Error::Internal)?;
    let mut response = Response::new(Body::from_stream(stream));
    let out = response.headers_mut();
    common_headers(out, content_type, disposition, &file.name, etag);
    match range {
        Some(range) => {
            *response.status_mut() = StatusCode::PARTIAL_CONTENT;
            let out = response.headers_mut();
            let content_range = format!("bytes {}-{}/{size}", range.start, range.end - 1);
            out.insert(header::CONTENT_RANGE, header_value(&content_range)?);
            out.insert(
                header::CONTENT_LENGTH,
                HeaderValue::from(range.end - range.start),
            );
        }
        None => {
            out.insert(header::CONTENT_LENGTH, HeaderValue::from(size));
        }
    }
    Ok(response)
}

fn common_headers(
    out: &mut HeaderMap,
    content_type: &str,
    disposition: &str,
    name: &str,
    etag: &str,
) {
    let value = |v: &str| {
        HeaderValue::from_str(v)
            .unwrap_or_else(|_| HeaderValue::from_static("application/octet-stream"))
    };
    out.insert(header::CONTENT_TYPE, value(content_type));
    out.insert(
        header::CONTENT_DISPOSITION,
        content_disposition(disposition, name),
    );
    out.insert(header::ETAG, value(etag));
    out.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    // The bytes behind an id never change; only this user's browser may keep them.
    out.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=86400, immutable"),
    );
    // Even if a browser did render it, it runs in a sandbox with nothing allowed.
    out.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; sandbox"),
    );
    out.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
}

/// `attachment; filename="ascii"; filename*=UTF-8''percent-encoded` (RFC 6266).
fn content_disposition(disposition: &str, name: &str) -> HeaderValue {
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .filter(|c| !matches!(c, '"' | '\\'))
        .collect();
    let encoded: String = name
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    let value = format!("{disposition}; filename=\"{ascii}\"; filename*=UTF-8''{encoded}");
    HeaderValue::from_str(&value).unwrap_or_else(|_| HeaderValue::from_static("attachment"))
}

/// A header value we built ourselves; failing here is our bug, reported as a 500.
fn header_value(value: &str) -> Result<HeaderValue> {
    HeaderValue::from_str(value).map_err(|e| Error::Internal(e.into()))
}

fn not_modified(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .any(|tag| tag.trim() == etag || tag.trim() == "*")
        })
}

fn not_modified_response(etag: &str) -> Response {
    let mut response = StatusCode::NOT_MODIFIED.into_response();
    if let Ok(value) = HeaderValue::from_str(etag) {
        response.headers_mut().insert(header::ETAG, value);
    }
    response
}

/// One range of `bytes=a-b`, `bytes=a-` or `bytes=-n`, within `size`; None if it
/// cannot be satisfied. (Several ranges are not supported: the first is served.)
fn parse_range(value: &str, size: u64) -> Option<std::ops::Range<u64>> {
    let spec = value.strip_prefix("bytes=")?.split(',').next()?.trim();
    let (start, end) = spec.split_once('-')?;
    let (start, end) = match (start.trim(), end.trim()) {
        ("", suffix) => {
            let n: u64 = suffix.parse().ok()?;
            (size.checked_sub(n.min(size))?, size)
        }
        (start, "") => (start.parse().ok()?, size),
        (start, end) => (
            start.parse().ok()?,
            end.parse::<u64>().ok()?.saturating_add(1).min(size),
        ),
    };
    (start < end && start < size).then_some(start..end)
}

#[cfg(test)]
mod tests {
    use super::parse_range;

    #[test]
    fn ranges_are_read_as_rfc_9110_says() {
        assert_eq!(parse_range("bytes=0-9", 100), Some(0..10));
        assert_eq!(parse_range("bytes=90-", 100), Some(90..100));
        assert_eq!(parse_range("bytes=-10", 100), Some(90..100));
        assert_eq!(parse_range("bytes=95-200", 100), Some(95..100));
        assert_eq!(parse_range("bytes=100-", 100), None);
        assert_eq!(parse_range("bytes=5-1", 100), None);
        assert_eq!(parse_range("items=0-1", 100), None);
        assert_eq!(parse_range("bytes=-0", 100), None);
    }
}
