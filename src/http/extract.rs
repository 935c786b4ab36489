//! Extractors: the caller's identity, where they came from, and request bodies whose
//! every rejection is a FastAPI-shaped JSON error (never axum's plain text).

use std::net::SocketAddr;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::{HeaderMap, header, request::Parts};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::auth::{self, AuthUser, ClientInfo};
use crate::error::{Error, FieldError};
use crate::state::AppState;

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Error> {
        let bearer = bearer_token(&parts.headers).ok_or_else(Error::unauthorized)?;
        auth::authenticate(state, bearer).await
    }
}

fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
}

impl FromRequestParts<AppState> for ClientInfo {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Error> {
        let forwarded = state
            .config
            .trust_forwarded_for
            .then(|| parts.headers.get("x-forwarded-for")?.to_str().ok())
            .flatten()
            // The last hop is the one our trusted proxy added.
            .and_then(|v| v.rsplit(',').next())
            .map(|ip| ip.trim().to_string());
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ci| ci.0.ip().to_string());
        let user_agent = parts
            .headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        Ok(ClientInfo {
            ip: forwarded.or(peer),
            user_agent,
        })
    }
}

/// A JSON body. Malformed JSON, wrong types and missing fields give 422 with the
/// field's location; a body over the limit gives 413; another content type, 415.
pub struct Json<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for Json<T> {
    type Rejection = Error;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Error> {
        if !has_content_type(req.headers(), "application/json") {
            return Err(Error::UnsupportedMediaType(
                "Expected a JSON body (Content-Type: application/json)".into(),
            ));
        }
        let bytes = read_body(req, state).await?;
        parse_json(&bytes).map(Json)
    }
}

/// The body of `POST /auth/login`: JSON, or the OAuth2 password form that FastAPI's
/// `OAuth2PasswordRequestForm` takes (`username`, `password`).
pub struct JsonOrForm<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for JsonOrForm<T> {
    type Rejection = Error;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Error> {
        let is_form = has_content_type(req.headers(), "application/x-www-form-urlencoded");
        if !is_form && !has_content_type(req.headers(), "application/json") {
            return Err(Error::UnsupportedMediaType(
                "Expected JSON or application/x-www-form-urlencoded".into(),
            ));
        }
        let bytes = read_body(req, state).await?;
        if !is_form {
            return parse_json(&bytes).map(JsonOrForm);
        }
        serde_urlencoded::from_bytes(&bytes)
            .map(JsonOrForm)
            .map_err(|e| validation_error("body", Vec::new(), e.to_string()))
    }
}

fn has_content_type(headers: &HeaderMap, expected: &str) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|mime| mime.trim().eq_ignore_ascii_case(expected))
}

async fn read_body(req: Request, state: &AppState) -> Result<Bytes, Error> {
    Bytes::from_request(req, state)
        .await
        .map_err(|rejection| match rejection {
            BytesRejection::FailedToBufferBody(_) if rejection.status() == 413 => {
                Error::PayloadTooLarge
            }
            other => Error::Validation(vec![FieldError::new(
                "body_error",
                &["body"],
                other.body_text(),
                Value::Null,
            )]),
        })
}

fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Error> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value =
        serde_path_to_error::deserialize(&mut de).map_err(|e| deserialize_error(e, "body"))?;
    de.end().map_err(|e| {
        Error::Validation(vec![FieldError::new(
            "json_invalid",
            &["body"],
            e.to_string(),
            Value::Null,
        )])
    })?;
    Ok(value)
}

/// Turns a serde error into FastAPI's 422 entry: where, what kind, and why.
pub fn deserialize_error<E: std::fmt::Display>(
    err: serde_path_to_error::Error<E>,
    part: &str,
) -> Error {
    let path = err
        .path()
        .iter()
        .filter_map(|seg| match seg {
            serde_path_to_error::Segment::Seq { index } => Some(Value::from(*index)),
            serde_path_to_error::Segment::Map { key } => Some(Value::from(key.as_str())),
            serde_path_to_error::Segment::Enum { variant } => Some(Value::from(variant.as_str())),
            serde_path_to_error::Segment::Unknown => None,
        })
        .collect();
    validation_error(part, path, err.inner().to_string())
}

fn validation_error(part: &str, path: Vec<Value>, msg: String) -> Error {
    let mut loc: Vec<Value> = vec![part.into()];
    loc.extend(path);
    let kind = if let Some(field) = msg
        .strip_prefix("missing field `")
        .and_then(|m| m.split('`').next())
    {
        loc.push(field.into());
        "missing"
    } else if msg.starts_with("invalid type") {
        "type_error"
    } else if msg.contains("at line") {
        "json_invalid"
    } else {
        "value_error"
    };
    let msg = if kind == "missing" {
        "Field required".to_string()
    } else {
        msg
    };
    Error::Validation(vec![FieldError {
        kind: kind.into(),
        loc,
        msg,
        input: Value::Null,
    }])
}

/// An optional JSON body: `None` when the request has none at all.
impl<T: DeserializeOwned> axum::extract::OptionalFromRequest<AppState> for Json<T> {
    type Rejection = Error;

    async fn from_request(req: Request, state: &AppState) -> Result<Option<Self>, Error> {
        let empty = req.headers().get(header::CONTENT_TYPE).is_none()
            && req
                .headers()
                .get(header::CONTENT_LENGTH)
                .is_none_or(|len| len == "0");
        if empty {
            return Ok(None);
        }
        <Self as FromRequest<AppState>>::from_request(req, state)
            .await
            .map(Some)
    }
}

/// Query parameters; a bad one gives 422 naming it (`["query", "limit"]`).
pub struct Query<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Query<T> {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Error> {
        let query = parts.uri.query().unwrap_or_default();
        let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize(de)
            .map(Query)
            .map_err(|e| deserialize_error(e, "query"))
    }
}
