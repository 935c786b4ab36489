//! Block Chat: a self-hosted, real-time chat server. `main.rs` parses the command line;
//! everything else starts from [`App::build`].

mod app;
pub mod auth;
pub mod chats;
pub mod config;
pub mod contacts;
pub mod domain;
pub mod error;
pub mod files;
mod http;
pub mod mail;
pub mod messages;
pub mod ratelimit;
pub mod realtime;
pub mod state;
pub mod store;
pub mod telemetry;
pub mod users;

pub use app::App;
pub use config::Config;
