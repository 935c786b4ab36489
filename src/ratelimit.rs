//! Rate limits on the endpoints worth attacking (login, register, refresh, forgot
//! password), per client IP and per account, each a token bucket refilled per minute.

use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::config::Config;
use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    Login,
    Register,
    Refresh,
    ForgotPassword,
}

const ACTIONS: [Action; 4] = [
    Action::Login,
    Action::Register,
    Action::Refresh,
    Action::ForgotPassword,
];

pub struct RateLimits {
    /// One (per-IP, per-account) pair per action, indexed like `ACTIONS`.
    limiters: Vec<(
        DefaultKeyedRateLimiter<String>,
        DefaultKeyedRateLimiter<String>,
    )>,
}

impl RateLimits {
    pub fn new(config: &Config) -> Self {
        let quota = |per_minute: u32| {
            Quota::per_minute(NonZeroU32::new(per_minute).unwrap_or(NonZeroU32::MIN))
        };
        let limiters = ACTIONS
            .iter()
            .map(|_| {
                (
                    RateLimiter::keyed(quota(config.auth_rate_per_ip_per_minute)),
                    RateLimiter::keyed(quota(config.auth_rate_per_account_per_minute)),
                )
            })
            .collect();
        Self { limiters }
    }

    /// Counts one attempt at `action` from `ip` on `account`; 429 when either is over.
    pub fn check(&self, action: Action, ip: Option<&str>, account: Option<&str>) -> Result<()> {
        let index = ACTIONS.iter().position(|a| *a == action).unwrap_or(0);
        let (per_ip, per_account) = &self.limiters[index];
        let over = |limiter: &DefaultKeyedRateLimiter<String>, key: &str| {
            limiter
                .check_key(&key.to_owned())
                .err()
                .map(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
        };
        let wait = [
            ip.and_then(|ip| over(per_ip, ip)),
            account.and_then(|a| over(per_account, &a.to_lowercase())),
        ]
        .into_iter()
        .flatten()
        .max();
        match wait {
            Some(retry_after) => Err(Error::RateLimited {
                retry_after: retry_after.max(Duration::from_secs(1)),
            }),
            None => Ok(()),
        }
    }

    /// Forgets keys whose buckets are full again, so the maps do not grow forever.
    pub fn shrink(&self) {
        for (per_ip, per_account) in &self.limiters {
            per_ip.retain_recent();
            per_account.retain_recent();
        }
    }
}
