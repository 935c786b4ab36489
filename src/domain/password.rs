//! A new password as a user typed it: 8–128 characters, never logged or echoed back.

use std::fmt;

use crate::error::Error;

#[derive(Clone)]
pub struct Password(String);

impl Password {
    pub const MIN: usize = 8;
    pub const MAX: usize = 128;

    /// `field` names the body field in the 422 (`password`, `new_password`).
    pub fn parse(input: String, field: &str) -> Result<Self, Error> {
        let len = input.chars().count();
        if !(Self::MIN..=Self::MAX).contains(&len) {
            // The input is not echoed: it is a password.
            return Err(Error::invalid(
                field,
                format!("must be {}-{} characters", Self::MIN, Self::MAX),
                serde_json::Value::Null,
            ));
        }
        Ok(Self(input))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(***)")
    }
}
