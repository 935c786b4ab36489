//! An email address, kept in lower case so uniqueness and lookups ignore case.
//!
//! The check is the practical one (one `@`, a dotted domain, no spaces, ≤ 254
//! characters): the only real test of an address is the mail we send to it.

use crate::error::Error;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub const MAX: usize = 254;

    pub fn parse(input: &str) -> Result<Self, Error> {
        let email = input.trim().to_lowercase();
        let invalid = || Error::invalid("email", "value is not a valid email address", input);
        if email.chars().count() > Self::MAX
            || email.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(invalid());
        }
        let (local, domain) = email.split_once('@').ok_or_else(invalid)?;
        let domain_ok = domain.contains('.')
            && !domain.contains('@')
            && domain
                .split('.')
                .all(|label| !label.is_empty() && !label.starts_with('-') && !label.ends_with('-'));
        if local.is_empty()
            || local.len() > 64
            || !domain_ok
            || email.contains(['<', '>', ',', ';', '"'])
        {
            return Err(invalid());
        }
        Ok(Self(email))
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
            Email::parse(" Bob@Example.COM ").unwrap().as_str(),
            "bob@example.com"
        );
        assert!(Email::parse("zoë@exämple.org").is_ok());
    }

    #[test]
    fn rejects_malformed() {
        for bad in [
            "",
            "bob",
            "bob@",
            "@example.com",
            "bob@example",
            "bob@@example.com",
            "b ob@example.com",
            "bob@-x.com",
            "a@b..com",
            "<a@b.com>",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?} should be refused");
        }
    }
}
