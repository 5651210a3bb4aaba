//! Retry policy: which failures are retried, exponential backoff with full jitter, and
//! `Retry-After` parsing.

use std::time::{Duration, SystemTime};

use rand::Rng;

use crate::error::{Error, ErrorKind, Result};
use time::{
    OffsetDateTime, PrimitiveDateTime, format_description::FormatItem, macros::format_description,
};

/// How idempotent requests (GET, PUT, DELETE) are retried after a transport failure, a 5xx
/// or a 429. POSTs are never retried.
///
/// Retry `n` (the first retry is 1) waits a random time between zero and
/// `min(max_delay, base_delay × 2^(n-1))` ("full jitter"), or the server's `Retry-After` when
/// it sent one — never past the client's total deadline.
///
/// ```
/// use std::time::Duration;
/// use runbeam_core::client::RetryPolicy;
/// let policy = RetryPolicy { max_attempts: 5, ..RetryPolicy::default() };
/// assert_eq!(policy.max_backoff(1), Duration::from_millis(200));
/// assert_eq!(policy.max_backoff(2), Duration::from_millis(400));
/// assert_eq!(RetryPolicy::none().max_attempts, 1);
/// assert!(RetryPolicy::default().with_max_attempts(0).is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in total, the first included (default [`RetryPolicy::DEFAULT_MAX_ATTEMPTS`];
    /// 1 to [`RetryPolicy::MAX_ATTEMPTS`], checked by [`RetryPolicy::with_max_attempts`] and by
    /// [`ClientBuilder::build`](super::ClientBuilder::build)).
    pub max_attempts: u32,
    /// Upper bound of the first backoff (default 200 ms).
    pub base_delay: Duration,
    /// Upper bound of any backoff (default 5 s).
    pub max_delay: Duration,
    /// Whether a `Retry-After` sent with a 429 or 503 is honoured (default true). When it is,
    /// the wait is the server's value; when it exceeds the remaining deadline the error is
    /// returned at once, with [`crate::Error::retry_after`] set.
    pub honour_retry_after: bool,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: RetryPolicy::DEFAULT_MAX_ATTEMPTS,
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(5),
            honour_retry_after: true,
        }
    }
}

impl RetryPolicy {
    /// Attempts of the default policy (3).
    pub const DEFAULT_MAX_ATTEMPTS: u32 = 3;

    /// The most attempts a policy may make (100): beyond that a failing call would keep a
    /// caller waiting for minutes of backoff against a server that is down.
    pub const MAX_ATTEMPTS: u32 = 100;

    /// The same policy with `max_attempts` attempts in total.
    ///
    /// ```
    /// use runbeam_core::{client::RetryPolicy, ErrorKind};
    /// assert_eq!(RetryPolicy::default().with_max_attempts(5)?.max_attempts, 5);
    /// let refused = RetryPolicy::default().with_max_attempts(101).unwrap_err();
    /// assert_eq!(refused.kind(), ErrorKind::InvalidArgument);
    /// # Ok::<(), runbeam_core::Error>(())
    /// ```
    ///
    /// # Errors
    /// `InvalidArgument` when `max_attempts` is 0 or more than [`RetryPolicy::MAX_ATTEMPTS`].
    pub fn with_max_attempts(self, max_attempts: u32) -> Result<Self> {
        let policy = RetryPolicy {
            max_attempts,
            ..self
        };
        policy.check()?;
        Ok(policy)
    }

    /// `InvalidArgument` unless `max_attempts` is in 1..=[`RetryPolicy::MAX_ATTEMPTS`].
    pub(crate) fn check(&self) -> Result<()> {
        if (1..=RetryPolicy::MAX_ATTEMPTS).contains(&self.max_attempts) {
            return Ok(());
        }
        Err(Error::new(
            ErrorKind::InvalidArgument,
            format!(
                "max_attempts must be between 1 (no retry) and {} (got {}): it counts every \
                 attempt of a call, the first included",
                RetryPolicy::MAX_ATTEMPTS,
                self.max_attempts
            ),
        ))
    }

    /// A policy that never retries.
    pub fn none() -> Self {
        RetryPolicy {
            max_attempts: 1,
            ..RetryPolicy::default()
        }
    }

    /// The longest backoff before retry number `retry` (1-based): `min(max_delay,
    /// base_delay × 2^(retry-1))`.
    pub fn max_backoff(&self, retry: u32) -> Duration {
        let factor = 1u32
            .checked_shl(retry.saturating_sub(1))
            .unwrap_or(u32::MAX);
        self.base_delay
            .checked_mul(factor)
            .unwrap_or(Duration::MAX)
            .min(self.max_delay)
    }

    /// A random backoff in `[0, max_backoff(retry)]` (full jitter).
    pub fn backoff(&self, retry: u32) -> Duration {
        let max = self.max_backoff(retry);
        let nanos = u64::try_from(max.as_nanos()).unwrap_or(u64::MAX);
        if nanos == 0 {
            return Duration::ZERO;
        }
        Duration::from_nanos(rand::rng().random_range(0..=nanos))
    }

    /// The sum of the longest backoffs between `max_attempts` attempts.
    pub(crate) fn total_max_backoff(&self) -> Duration {
        (1..self.max_attempts)
            .map(|retry| self.max_backoff(retry))
            .fold(Duration::ZERO, Duration::saturating_add)
    }
}

const IMF_FIXDATE: &[FormatItem<'static>] = format_description!(
    "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
);

/// Parses a `Retry-After` header value: delay-seconds (`"120"`) or an HTTP date
/// (`"Wed, 21 Oct 2015 07:28:00 GMT"`, relative to `now`; a date in the past is zero).
/// Anything else is `None`.
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use runbeam_core::client::parse_retry_after;
/// let now = SystemTime::now();
/// assert_eq!(parse_retry_after("3", now), Some(Duration::from_secs(3)));
/// assert_eq!(parse_retry_after("soon", now), None);
/// ```
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        // Absurd values are clamped to a day rather than overflowing.
        let secs = value.parse::<u64>().unwrap_or(u64::MAX).min(86_400);
        return Some(Duration::from_secs(secs));
    }
    let date = PrimitiveDateTime::parse(value, IMF_FIXDATE)
        .ok()?
        .assume_utc();
    let now = OffsetDateTime::from(now);
    let wait = date - now;
    Some(
        Duration::try_from(wait)
            .unwrap_or(Duration::ZERO)
            .min(Duration::from_secs(86_400)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn total_backoff_sums_retries() {
        let p = RetryPolicy::default();
        assert_eq!(p.total_max_backoff(), Duration::from_millis(600));
        assert_eq!(RetryPolicy::none().total_max_backoff(), Duration::ZERO);
    }

    #[test]
    fn max_backoff_saturates() {
        let p = RetryPolicy::default();
        assert_eq!(p.max_backoff(40), p.max_delay);
        assert_eq!(p.max_backoff(0), p.base_delay);
    }

    #[test]
    fn max_attempts_is_checked_once_here() {
        let p = RetryPolicy::default();
        assert_eq!(p.with_max_attempts(1).unwrap().max_attempts, 1);
        assert_eq!(
            p.with_max_attempts(RetryPolicy::MAX_ATTEMPTS)
                .unwrap()
                .max_attempts,
            RetryPolicy::MAX_ATTEMPTS
        );
        for bad in [0, RetryPolicy::MAX_ATTEMPTS + 1, u32::MAX] {
            let err = p.with_max_attempts(bad).unwrap_err();
            assert_eq!(err.kind(), crate::error::ErrorKind::InvalidArgument);
            assert!(err.message().contains("max_attempts"), "{}", err.message());
        }
    }

    #[test]
    fn retryable_kinds() {
        use crate::error::ErrorKind;
        assert!(ErrorKind::ServerError.is_retryable());
        assert!(ErrorKind::RateLimited.is_retryable());
        assert!(ErrorKind::Transport.is_retryable());
        assert!(!ErrorKind::NotFound.is_retryable());
        assert!(!ErrorKind::Protocol.is_retryable());
    }
}
