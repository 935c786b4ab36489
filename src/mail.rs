//! Outgoing mail: through SMTP when configured, else into `<data_dir>/outbox/` as
//! `.eml` files, so a self-hoster without a mail server can still recover an account.

use std::path::PathBuf;

use anyhow::Context;
use lettre::message::{Mailbox, header::ContentType};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::config::{Config, SmtpSecurity};

#[derive(Clone)]
pub enum Mailer {
    Smtp {
        transport: AsyncSmtpTransport<Tokio1Executor>,
        from: Mailbox,
    },
    Outbox {
        dir: PathBuf,
        from: Mailbox,
    },
}

impl Mailer {
    pub fn new(config: &Config) -> anyhow::Result<Self> {
        let from: Mailbox = config
            .mail_from
            .parse()
            .context("mail_from is not a valid address")?;
        let Some(host) = &config.smtp_host else {
            let dir = config.data_dir.join("outbox");
            return Ok(Self::Outbox { dir, from });
        };
        let mut builder = match config.smtp_security {
            SmtpSecurity::Starttls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(host)?,
            SmtpSecurity::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(host)?,
            SmtpSecurity::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host),
        };
        if let Some(port) = config.smtp_port {
            builder = builder.port(port);
        }
        if let (Some(user), Some(password)) = (&config.smtp_username, &config.smtp_password) {
            builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
        }
        Ok(Self::Smtp {
            transport: builder.build(),
            from,
        })
    }

    pub fn describe(&self) -> String {
        match self {
            Self::Smtp { .. } => "SMTP".into(),
            Self::Outbox { dir, .. } => format!("the outbox folder {}", dir.display()),
        }
    }

    /// Sends a plain-text mail.
    pub async fn send(&self, to: &str, subject: &str, body: String) -> anyhow::Result<()> {
        let from = match self {
            Self::Smtp { from, .. } | Self::Outbox { from, .. } => from.clone(),
        };
        let message = Message::builder()
            .from(from)
            .to(to.parse().context("invalid recipient")?)
            .subject(subject)
            .header(ContentType::TEXT_PLAIN)
            .body(body)?;
        match self {
            Self::Smtp { transport, .. } => {
                transport
                    .send(message)
                    .await
                    .context("SMTP delivery failed")?;
            }
            Self::Outbox { dir, .. } => {
                tokio::fs::create_dir_all(dir).await?;
                let path = dir.join(format!("{}.eml", crate::domain::new_id()));
                tokio::fs::write(&path, message.formatted()).await?;
                tracing::info!(path = %path.display(), %to, "no SMTP configured: mail written to the outbox");
            }
        }
        Ok(())
    }
}
