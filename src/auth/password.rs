//! Password hashing with argon2id, off the async runtime (a hash takes tens of ms).

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, Version};
use std::sync::Arc;

use crate::config::Config;
use crate::domain::Password;

#[derive(Clone)]
pub struct PasswordHashing {
    argon2: Arc<Argon2<'static>>,
    /// A hash of nothing, verified against when the user does not exist, so that an
    /// unknown user and a wrong password take the same time (no user enumeration).
    decoy_hash: Arc<str>,
}

impl PasswordHashing {
    pub fn new(config: &Config) -> anyhow::Result<Self> {
        let params = Params::new(
            config.password_hash_memory_kib,
            config.password_hash_iterations,
            config.password_hash_parallelism,
            None,
        )
        .map_err(|e| anyhow::anyhow!("invalid argon2 parameters: {e}"))?;
        let argon2 = Arc::new(Argon2::new(Algorithm::Argon2id, Version::V0x13, params));
        let decoy_hash = argon2
            .hash_password(b"decoy password")
            .map_err(|e| anyhow::anyhow!("argon2: {e}"))?
            .to_string()
            .into();
        Ok(Self { argon2, decoy_hash })
    }

    pub async fn hash(&self, password: &Password) -> anyhow::Result<String> {
        let argon2 = self.argon2.clone();
        let password = password.expose().to_owned();
        tokio::task::spawn_blocking(move || {
            argon2
                .hash_password(password.as_bytes())
                .map(|h| h.to_string())
                .map_err(|e| anyhow::anyhow!("argon2: {e}"))
        })
        .await?
    }

    /// Whether `password` matches `hash`. With no hash (an unknown user) or one that
    /// cannot match (an erased account), it spends the same time and says no.
    pub async fn verify(&self, password: &str, hash: Option<&str>) -> anyhow::Result<bool> {
        let usable = hash.filter(|h| PasswordHash::new(h).is_ok());
        let hash: Arc<str> = usable
            .map(Arc::from)
            .unwrap_or_else(|| self.decoy_hash.clone());
        let known = usable.is_some();
        let argon2 = self.argon2.clone();
        let password = password.to_owned();
        tokio::task::spawn_blocking(move || {
            let parsed =
                PasswordHash::new(&hash).map_err(|e| anyhow::anyhow!("stored hash: {e}"))?;
            Ok(argon2.verify_password(password.as_bytes(), &parsed).is_ok() && known)
        })
        .await?
    }
}
