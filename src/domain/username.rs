//! A username: 3–32 of `a-z 0-9 _ . -`, stored in lower case so uniqueness ignores case.

use crate::error::Error;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Username(String);

impl Username {
    pub const MIN: usize = 3;
    pub const MAX: usize = 32;

    pub fn parse(input: &str) -> Result<Self, Error> {
        let name = input.trim().to_ascii_lowercase();
        let len = name.chars().count();
        if !(Self::MIN..=Self::MAX).contains(&len) {
            return Err(Error::invalid(
                "username",
                format!("must be {}-{} characters", Self::MIN, Self::MAX),
                input,
            ));
        }
        let allowed = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || "_.-".contains(c);
        if !name.chars().all(allowed) {
            return Err(Error::invalid(
                "username",
                "may contain only letters a-z, digits, '_', '.' and '-'",
                input,
            ));
        }
        Ok(Self(name))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_and_lowercases() {
        assert_eq!(
            Username::parse(" Alice.B-1_ ").unwrap().as_str(),
            "alice.b-1_"
        );
    }

    #[test]
    fn rejects_bad_length_and_characters() {
        for bad in ["ab", &"a".repeat(33), "al ice", "alice!", "ålice", ""] {
            assert!(Username::parse(bad).is_err(), "{bad:?} should be refused");
        }
    }
}
