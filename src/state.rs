//! The shared parts every request and background task reaches through one `Arc`.

use std::ops::Deref;
use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use crate::auth::password::PasswordHashing;
use crate::auth::tokens::AccessTokens;
use crate::config::Config;
use crate::mail::Mailer;
use crate::ratelimit::RateLimits;
use crate::realtime::Realtime;
use crate::realtime::presence::Presence;
use crate::store::{Db, Writer};

#[derive(Clone)]
pub struct AppState(Arc<Shared>);

pub struct Shared {
    pub config: Config,
    pub db: Db,
    /// Appends messages, group-committing concurrent sends.
    pub writer: Writer,
    pub passwords: PasswordHashing,
    pub access_tokens: AccessTokens,
    pub mailer: Mailer,
    pub rate_limits: RateLimits,
    pub presence: Presence,
    /// File storage and the key that signs file URLs.
    pub files: crate::files::Files,
    /// Events to connected clients.
    pub realtime: Realtime,
    /// Cancelled when the server begins to shut down.
    pub shutdown: CancellationToken,
}

impl AppState {
    pub fn new(shared: Shared) -> Self {
        Self(Arc::new(shared))
    }
}

impl Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}
