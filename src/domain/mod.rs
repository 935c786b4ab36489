//! Plain types shared by every part: ids and the values we parse at the edge.
//!
//! Each `parse` is the one place where its rule lives (length, characters,
//! normalisation); code that holds one of these types holds a valid value.

mod email;
pub mod event;
mod password;
mod people;
mod username;

pub use email::Email;
pub use password::Password;
pub use people::{Audience, Status, search_fold};
pub use username::Username;

/// A new time-ordered id (UUIDv7), as the string the API and the database use.
pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// Whether `s` looks like one of our ids; anything else cannot name a row.
pub fn is_id(s: &str) -> bool {
    uuid::Uuid::try_parse(s).is_ok()
}
