//! The words of people's settings: statuses and privacy choices, as stored and sent.

use serde::{Deserialize, Serialize};
use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;
use utoipa::ToSchema;

/// A status a user can choose, and what others see.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Online,
    Away,
    /// Do not disturb.
    Busy,
    /// Chosen: appear offline. Seen: not connected.
    Offline,
}

/// Who may see something of mine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Audience {
    Everyone,
    Contacts,
    Nobody,
}

macro_rules! text_enum {
    ($ty:ty { $($variant:ident = $text:literal),* $(,)? }) => {
        impl $ty {
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $text),* }
            }

            /// Reads a stored value; anything unknown becomes the first (the default).
            pub fn from_stored(s: &str) -> Self {
                match s { $($text => Self::$variant,)* _ => text_enum!(@first $($variant)*) }
            }
        }
    };
    (@first $first:ident $($rest:ident)*) => { Self::$first };
}

text_enum!(Status { Online = "online", Away = "away", Busy = "busy", Offline = "offline" });
text_enum!(Audience { Everyone = "everyone", Contacts = "contacts", Nobody = "nobody" });

/// Folds text for search: compatibility-decomposed, accents dropped, lower case. So
/// "José" is found by "jose", "ＡＢＣ" by "abc", "Ёлка" by "елка"; CJK passes unchanged.
pub fn search_fold(text: &str) -> String {
    text.nfkd()
        .filter(|c| !is_combining_mark(*c))
        .flat_map(char::to_lowercase)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_case_accents_and_width() {
        assert_eq!(search_fold("José Ñúñez"), "jose nunez");
        assert_eq!(search_fold("ЁЛКА"), "елка");
        assert_eq!(search_fold("ＡＢＣ"), "abc");
        assert_eq!(search_fold("東京タワー"), "東京タワー");
    }

    #[test]
    fn stored_values_round_trip() {
        for s in [Status::Online, Status::Away, Status::Busy, Status::Offline] {
            assert_eq!(Status::from_stored(s.as_str()), s);
        }
        assert_eq!(Audience::from_stored("nonsense"), Audience::Everyone);
    }
}
