//! The integration tests: one binary, a file per resource. Every test runs against a
//! real server, on SQLite and on PostgreSQL (see `backend_tests!`).

mod helpers;
mod smtp;

mod auth;
mod chats;
mod files;
mod friends;
mod live;
mod loadgen;
mod messages;
mod operations;
mod reactions;
mod realtime;
mod search;
mod server;
mod threads;
mod users;
