//! One typed configuration, layered: defaults < TOML file < `BLOCKCHAT_*` env < flags.
//!
//! Every key below is a TOML key, and `BLOCKCHAT_<KEY>` in upper case is its variable
//! (`database_url` ⇄ `BLOCKCHAT_DATABASE_URL`). The README has the full reference.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address to listen on.
    pub bind: SocketAddr,
    /// Folder for the SQLite database, the generated JWT secret, the mail outbox, files.
    pub data_dir: PathBuf,
    /// `sqlite://...` or `postgres://...`; empty means `<data_dir>/blockchat.db`.
    pub database_url: Option<String>,
    /// Connections in the database pool (reads, for SQLite; writes go through one connection).
    pub database_max_connections: u32,
    /// SQLite only: `full` (a commit survives power loss; the default) or `normal`
    /// (survives a crash of the process, not of the machine; faster).
    pub sqlite_synchronous: SqliteSync,
    /// Base URL people reach the server at, used for links in emails.
    pub public_url: Option<String>,

    /// HMAC secret for access tokens; generated into `<data_dir>/jwt_secret` when unset.
    pub jwt_secret: Option<String>,
    /// Lifetime of an access token (a JWT), in seconds. At most 15 minutes.
    pub access_token_ttl_secs: u64,
    /// A session without "remember me" ends after this long without a refresh.
    pub session_idle_secs: u64,
    /// A "remember me" session ends after this long without a refresh.
    pub session_remember_secs: u64,
    /// How long a password-reset link stays valid, in seconds (at most an hour).
    pub password_reset_ttl_secs: u64,
    /// Without a request (or, later, connection activity) for this long, a user is away
    /// or offline.
    pub presence_idle_secs: u64,
    /// How long a deleted account's username stays reserved before anyone may take it.
    pub deleted_username_hold_days: u64,
    /// The longest message, in characters.
    pub message_max_chars: usize,
    /// The most members a group may have.
    pub group_member_limit: usize,
    /// The most different emoji one message may collect.
    pub reaction_kinds_max: usize,

    /// argon2id cost; the defaults are OWASP's (19 MiB, 2 passes, 1 lane).
    pub password_hash_memory_kib: u32,
    pub password_hash_iterations: u32,
    pub password_hash_parallelism: u32,

    /// Origins allowed by CORS. Empty: same origin only.
    pub cors_origins: Vec<String>,
    /// Requests per minute to each auth endpoint (login, register, refresh, forgot), per IP.
    pub auth_rate_per_ip_per_minute: u32,
    /// Requests per minute to each auth endpoint, per account (username or email).
    pub auth_rate_per_account_per_minute: u32,
    /// Take the client IP from `X-Forwarded-For` (only behind a proxy you trust).
    pub trust_forwarded_for: bool,
    /// Largest request body accepted, in bytes (uploads have their own limit).
    pub max_body_bytes: usize,

    /// The largest file one may upload, in bytes.
    pub file_max_bytes: u64,
    /// Storage each user's uploads may take, in bytes; 0 for no limit.
    pub file_quota_per_user_bytes: u64,
    /// Storage all uploads together may take, in bytes; 0 for no limit.
    pub file_quota_total_bytes: u64,
    /// Types refused on upload (415): MIME types found in the content, or file name
    /// extensions (`.exe`).
    pub file_blocked_types: Vec<String>,
    /// Images with more pixels than this are refused (decompression bombs).
    pub image_max_pixels: u64,
    /// Files nothing refers to (never sent, or their messages deleted) are removed
    /// once they are this old, in seconds.
    pub file_orphan_grace_secs: u64,
    /// How long the signed file URLs in message payloads stay valid, in seconds.
    pub file_url_ttl_secs: u64,
    /// S3-compatible storage for files; when `s3_bucket` is unset, files go to
    /// `<data_dir>/files/`.
    pub s3_bucket: Option<String>,
    pub s3_endpoint: Option<String>,
    pub s3_region: Option<String>,
    pub s3_access_key_id: Option<String>,
    pub s3_secret_access_key: Option<String>,

    /// SMTP server for outgoing mail; when unset, mail is written to `<data_dir>/outbox/`.
    pub smtp_host: Option<String>,
    pub smtp_port: Option<u16>,
    pub smtp_username: Option<String>,
    pub smtp_password: Option<String>,
    /// `starttls` (default), `tls` (implicit, port 465) or `none` (local relays only).
    pub smtp_security: SmtpSecurity,
    /// The `From:` of mail we send.
    pub mail_from: String,

    /// PEM certificate chain and private key: when both are set, serve https and wss.
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,

    /// Log filter (`RUST_LOG` syntax); `RUST_LOG` itself wins when set.
    pub log: String,
    /// `text` or `json`.
    pub log_format: LogFormat,
    /// How long shutdown waits for open connections to finish, in seconds.
    pub shutdown_grace_secs: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpSecurity {
    Starttls,
    Tls,
    None,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SqliteSync {
    Full,
    Normal,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            bind: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("data"),
            database_url: None,
            database_max_connections: 8,
            sqlite_synchronous: SqliteSync::Full,
            public_url: None,
            jwt_secret: None,
            access_token_ttl_secs: 15 * 60,
            session_idle_secs: 12 * 3600,
            session_remember_secs: 30 * 24 * 3600,
            password_reset_ttl_secs: 3600,
            presence_idle_secs: 300,
            deleted_username_hold_days: 30,
            message_max_chars: 4000,
            group_member_limit: 5000,
            reaction_kinds_max: 20,
            password_hash_memory_kib: 19 * 1024,
            password_hash_iterations: 2,
            password_hash_parallelism: 1,
            cors_origins: Vec::new(),
            auth_rate_per_ip_per_minute: 30,
            auth_rate_per_account_per_minute: 10,
            trust_forwarded_for: false,
            max_body_bytes: 1024 * 1024,
            file_max_bytes: 25 * 1024 * 1024,
            file_quota_per_user_bytes: 1024 * 1024 * 1024,
            file_quota_total_bytes: 0,
            file_blocked_types: [
                "application/x-msdownload",
                "application/x-ms-installer",
                "application/vnd.microsoft.portable-executable",
                "application/x-executable",
                "application/x-mach-binary",
                ".exe",
                ".dll",
                ".msi",
                ".bat",
                ".cmd",
                ".com",
                ".scr",
                ".pif",
                ".vbs",
                ".ps1",
                ".jar",
            ]
            .map(String::from)
            .to_vec(),
            image_max_pixels: 50_000_000,
            file_url_ttl_secs: 3600,
            file_orphan_grace_secs: 24 * 3600,
            s3_bucket: None,
            s3_endpoint: None,
            s3_region: None,
            s3_access_key_id: None,
            s3_secret_access_key: None,
            smtp_host: None,
            smtp_port: None,
            smtp_username: None,
            smtp_password: None,
            smtp_security: SmtpSecurity::Starttls,
            mail_from: "Block Chat <noreply@localhost>".into(),
            tls_cert: None,
            tls_key: None,
            log: "info".into(),
            log_format: LogFormat::Text,
            shutdown_grace_secs: 10,
        }
    }
}

/// Settings given as command-line flags; `None` leaves the lower layers alone.
#[derive(Debug, Default, Clone, Serialize)]
pub struct FlagOverrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bind: Option<SocketAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log: Option<String>,
}

impl Config {
    /// Builds the config from its layers. `file` is the `--config` path, if any.
    pub fn load(file: Option<&Path>, flags: FlagOverrides) -> anyhow::Result<Self> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Some(path) = file {
            anyhow::ensure!(path.exists(), "config file {} not found", path.display());
            figment = figment.merge(Toml::file(path));
        }
        // Only variables that name a setting: others with our prefix (BLOCKCHAT_CONFIG,
        // a script's own BLOCKCHAT_BIN...) must not stop the server; a typo is warned of.
        let keys: Vec<String> = match serde_json::to_value(Config::default()) {
            Ok(serde_json::Value::Object(map)) => map.keys().cloned().collect(),
            _ => Vec::new(),
        };
        for (name, _) in std::env::vars() {
            if let Some(key) = name.strip_prefix("BLOCKCHAT_")
                && !keys.contains(&key.to_lowercase())
                && !["CONFIG", "ADMIN_PASSWORD"].contains(&key)
            {
                eprintln!("warning: {name} is not a Block Chat setting; ignored");
            }
        }
        let config: Config = figment
            .merge(
                Env::prefixed("BLOCKCHAT_")
                    .only(&keys.iter().map(String::as_str).collect::<Vec<_>>()),
            )
            .merge(Serialized::defaults(flags))
            .extract()?;
        config.check()?;
        Ok(config)
    }

    fn check(&self) -> anyhow::Result<()> {
        anyhow::ensure!(
            (1..=900).contains(&self.access_token_ttl_secs),
            "access_token_ttl_secs must be between 1 and 900 (15 minutes)"
        );
        anyhow::ensure!(
            (1..=3600).contains(&self.password_reset_ttl_secs),
            "password_reset_ttl_secs must be between 1 and 3600"
        );
        anyhow::ensure!(
            self.tls_cert.is_some() == self.tls_key.is_some(),
            "tls_cert and tls_key go together"
        );
        anyhow::ensure!(
            self.auth_rate_per_ip_per_minute > 0 && self.auth_rate_per_account_per_minute > 0,
            "rate limits must be positive"
        );
        Ok(())
    }

    /// The database URL, defaulting to a SQLite file in the data directory.
    pub fn database_url(&self) -> String {
        match &self.database_url {
            Some(url) if !url.is_empty() => url.clone(),
            _ => format!("sqlite://{}", self.data_dir.join("blockchat.db").display()),
        }
    }

    /// The URL people reach us at, without a trailing slash.
    pub fn public_url(&self) -> String {
        match &self.public_url {
            Some(url) => url.trim_end_matches('/').to_string(),
            None => {
                let scheme = if self.tls_cert.is_some() {
                    "https"
                } else {
                    "http"
                };
                format!("{scheme}://{}", self.bind)
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::result_large_err)] // figment::Jail's closures return figment's error
mod tests {
    use super::*;

    /// Each layer overrides the one below: defaults < file < env < flags.
    #[test]
    fn layers_override_in_order() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "blockchat.toml",
                r#"
                bind = "0.0.0.0:9000"
                data_dir = "/srv/chat"
                log = "debug"
                session_idle_secs = 60
                "#,
            )?;
            jail.set_env("BLOCKCHAT_DATA_DIR", "/var/lib/chat");
            jail.set_env("BLOCKCHAT_LOG", "warn");
            jail.set_env("BLOCKCHAT_CORS_ORIGINS", "[\"https://a.example\"]");
            let flags = FlagOverrides {
                log: Some("trace".into()),
                ..Default::default()
            };
            let config = Config::load(Some(Path::new("blockchat.toml")), flags)
                .map_err(|e| e.to_string())?;
            assert_eq!(config.bind.to_string(), "0.0.0.0:9000"); // file
            assert_eq!(config.session_idle_secs, 60); // file
            assert_eq!(config.data_dir, PathBuf::from("/var/lib/chat")); // env over file
            assert_eq!(config.cors_origins, vec!["https://a.example".to_string()]); // env
            assert_eq!(config.log, "trace"); // flag over env
            assert_eq!(config.access_token_ttl_secs, 900); // default
            assert_eq!(config.database_url(), "sqlite:///var/lib/chat/blockchat.db");
            Ok(())
        });
    }

    #[test]
    fn refuses_bad_values_and_unknown_keys() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("BLOCKCHAT_ACCESS_TOKEN_TTL_SECS", "3600");
            assert!(
                Config::load(None, FlagOverrides::default()).is_err(),
                "token lifetime over 15 min"
            );
            jail.clear_env();
            jail.set_env("BLOCKCHAT_NO_SUCH_KEY", "1");
            assert!(
                Config::load(None, FlagOverrides::default()).is_ok(),
                "another program's variable does not stop the server"
            );
            jail.clear_env();
            jail.create_file("typo.toml", "bnid = \"0.0.0.0:1\"")?;
            assert!(
                Config::load(Some(Path::new("typo.toml")), FlagOverrides::default()).is_err(),
                "a typo in the file is reported"
            );
            jail.clear_env();
            assert!(
                Config::load(Some(Path::new("missing.toml")), FlagOverrides::default()).is_err()
            );
            Ok(())
        });
    }
}
