//! `GET /search/messages`: a thin handler over `crate::messages::search`.

use axum::extract::State;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::Query;
use super::{ErrorBody, ValidationErrorBody};
use crate::auth::AuthUser;
use crate::error::Result;
use crate::messages::search::{self, SearchPage, SearchParams};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(search_messages))
}

/// Search the messages of my chats: words in any script (whole or parts of words,
/// accents ignored), "phrases", -exclusions, and filters. Whole-word matches first,
/// then newest first.
#[utoipa::path(get, path = "/search/messages", tag = "messages", security(("bearer" = [])),
    params(SearchParams),
    responses(
        (status = 200, description = "A page of results", body = SearchPage),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 422, description = "An empty or too long query, or bad filters", body = ValidationErrorBody),
    ))]
async fn search_messages(
    State(state): State<AppState>,
    auth: AuthUser,
    Query(params): Query<SearchParams>,
) -> Result<axum::Json<SearchPage>> {
    Ok(axum::Json(search::search(&state, &auth, params).await?))
}
