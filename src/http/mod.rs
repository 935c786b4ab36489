//! The HTTP API: one router per resource, mounted at the spec's paths and again under
//! `/api`, wrapped in the layers every request goes through.

mod assets;
mod auth;
mod chats;
mod extract;
mod files;
mod friends;
mod health;
mod messages;
mod middleware;
mod reactions;
mod search;
mod threads;
mod users;
mod ws;

use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, HeaderValue, Method, header};
use serde::Serialize;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_swagger_ui::SwaggerUi;

use crate::error::FieldError;
use crate::state::AppState;

/// The body of every error but 422: `{"detail": "..."}`.
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    pub detail: String,
}

/// The body of a 422: `{"detail": [{"type", "loc", "msg", "input"}]}`.
#[derive(Serialize, ToSchema)]
pub struct ValidationErrorBody {
    pub detail: Vec<FieldError>,
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Block Chat", description = "A self-hosted, real-time chat server. Every path is also served under `/api`."),
    modifiers(&BearerAuth),
    components(schemas(ErrorBody, ValidationErrorBody)),
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

/// The whole application as one axum router.
pub fn router(state: AppState) -> Router {
    let (api, openapi) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(auth::router())
        .merge(users::router())
        .merge(friends::router())
        .merge(chats::router())
        .merge(messages::router())
        .merge(files::router())
        .merge(reactions::router())
        .merge(search::router())
        .merge(threads::router())
        .split_for_parts();

    let request_id = HeaderName::from_static("x-request-id");
    Router::new()
        .merge(api.clone())
        .nest("/api", api)
        .merge(health::router())
        .merge(ws::router())
        .merge(SwaggerUi::new("/docs").url("/openapi.json", openapi))
        .fallback(assets::fallback)
        .layer(DefaultBodyLimit::max(state.config.max_body_bytes))
        .layer(axum::middleware::from_fn(middleware::json_errors))
        .layer(axum::middleware::from_fn(middleware::record_metrics))
        .layer(CatchPanicLayer::custom(middleware::panic_response))
        .layer(security_header(header::CONTENT_SECURITY_POLICY, CSP))
        .layer(security_header(header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .layer(security_header(header::X_FRAME_OPTIONS, "DENY"))
        .layer(security_header(header::REFERRER_POLICY, "no-referrer"))
        .layer(cors(&state.config.cors_origins))
        .layer(middleware::trace_layer())
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
        .with_state(state)
}

fn cors(origins: &[String]) -> CorsLayer {
    let origins: Vec<HeaderValue> = origins.iter().filter_map(|o| o.parse().ok()).collect();
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins))
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::DELETE,
            Method::PATCH,
        ])
        .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE])
        .max_age(Duration::from_secs(3600))
}

/// Headers on every response: no sniffing, no framing, no referrers, and a CSP that
/// allows only our own scripts (the web client has no inline script).
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
                   img-src 'self' data: blob:; connect-src 'self' ws: wss:; object-src 'none'; \
                   base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

fn security_header(name: HeaderName, value: &'static str) -> SetResponseHeaderLayer<HeaderValue> {
    SetResponseHeaderLayer::if_not_present(name, HeaderValue::from_static(value))
}
