//! The stored tokens of docs/spec.md §5.1: a gateway's machine token and a user token.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;

use crate::Secret;

/// Default renewal window: a token is renewed this long before it expires.
pub const DEFAULT_RENEWAL_WINDOW: Duration = Duration::from_secs(7 * 24 * 3600);

/// A gateway's machine token (its identity, ~30 days), as stored and as pre-provisioned in
/// `RUNBEAM_MACHINE_TOKEN`. The token itself is a [`Secret`]: `Debug` shows `***` and the
/// memory is zeroized on drop.
///
/// ```
/// use runbeam_core::storage::MachineToken;
/// let t: MachineToken = serde_json::from_str(r#"{"machine_token": "mt_secret",
///     "expires_at": "2099-01-01 00:00:00", "gateway_id": "gw-1", "abilities": ["resolve"]}"#)?;
/// assert!(!t.is_expired());
/// assert!(!format!("{t:?}").contains("mt_secret"));
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct MachineToken {
    /// The opaque machine token sent as `Authorization: Bearer`.
    #[serde(serialize_with = "expose", deserialize_with = "secret")]
    pub machine_token: Secret,
    /// When it stops working (RFC 3339 or `YYYY-MM-DD HH:MM:SS` UTC on input).
    #[serde(serialize_with = "rfc3339", deserialize_with = "timestamp")]
    pub expires_at: OffsetDateTime,
    /// The gateway it identifies.
    #[serde(deserialize_with = "id")]
    pub gateway_id: String,
    /// What it may do.
    #[serde(default)]
    pub abilities: Vec<String>,
    /// When it was issued, if known.
    #[serde(
        default,
        serialize_with = "opt_rfc3339",
        deserialize_with = "opt_timestamp",
        skip_serializing_if = "Option::is_none"
    )]
    pub issued_at: Option<OffsetDateTime>,
}

impl fmt::Debug for MachineToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MachineToken")
            .field("machine_token", &self.machine_token)
            .field("expires_at", &self.expires_at)
            .field("gateway_id", &self.gateway_id)
            .field("abilities", &self.abilities)
            .field("issued_at", &self.issued_at)
            .finish()
    }
}

impl MachineToken {
    /// A token from its parts (what `/harmony/authorize` answers).
    ///
    /// ```
    /// use runbeam_core::{storage::MachineToken, Secret};
    /// let expires = time::OffsetDateTime::now_utc() + time::Duration::days(30);
    /// let t = MachineToken::new(Secret::new("mt".into()), expires, "gw-1", vec![]);
    /// assert!(!t.is_expired());
    /// ```
    pub fn new(
        machine_token: Secret,
        expires_at: OffsetDateTime,
        gateway_id: impl Into<String>,
        abilities: Vec<String>,
    ) -> MachineToken {
        MachineToken {
            machine_token,
            expires_at,
            gateway_id: gateway_id.into(),
            abilities,
            issued_at: None,
        }
    }

    /// Parses an `expires_at`/`issued_at` text: RFC 3339, or `YYYY-MM-DD HH:MM:SS` (UTC).
    pub fn parse_time(text: &str) -> Option<OffsetDateTime> {
        parse_timestamp(text)
    }

    /// Whether it has expired.
    pub fn is_expired(&self) -> bool {
        self.expires_at <= OffsetDateTime::now_utc()
    }

    /// Time left before expiry (zero once expired).
    pub fn expires_in(&self) -> Duration {
        let left = self.expires_at - OffsetDateTime::now_utc();
        Duration::try_from(left).unwrap_or(Duration::ZERO)
    }

    /// Whether it expires within `window` (or has expired).
    ///
    /// ```
    /// # use runbeam_core::storage::MachineToken;
    /// # use std::time::Duration;
    /// # let t: MachineToken = serde_json::from_str(r#"{"machine_token": "x",
    /// #     "expires_at": "2099-01-01T00:00:00Z", "gateway_id": "gw"}"#).unwrap();
    /// assert!(!t.needs_renewal(Duration::from_secs(7 * 24 * 3600)));
    /// ```
    pub fn needs_renewal(&self, window: Duration) -> bool {
        self.expires_in() <= window
    }
}

/// A user's token (user JWT or Sanctum token), optionally with its expiry and user.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct UserToken {
    /// The token.
    #[serde(serialize_with = "expose", deserialize_with = "secret")]
    pub token: Secret,
    /// When it expires, if known.
    #[serde(
        default,
        serialize_with = "opt_rfc3339",
        deserialize_with = "opt_timestamp",
        skip_serializing_if = "Option::is_none"
    )]
    pub expires_at: Option<OffsetDateTime>,
    /// Who it belongs to (`{id, email, name}` as the Cloud gives it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<Value>,
}

impl fmt::Debug for UserToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UserToken")
            .field("token", &self.token)
            .field("expires_at", &self.expires_at)
            .field("user", &self.user)
            .finish()
    }
}

impl UserToken {
    /// Whether it has a known expiry that has passed.
    pub fn is_expired(&self) -> bool {
        self.expires_at
            .is_some_and(|at| at <= OffsetDateTime::now_utc())
    }
}

// The stored JSON is the caller's data: token fields are written in clear on purpose
// (the file backend encrypts the whole document; the keyring protects its entries).
fn expose<S: Serializer>(secret: &Secret, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(secret.expose())
}

fn secret<'de, D: Deserializer<'de>>(d: D) -> Result<Secret, D::Error> {
    let text = zeroize::Zeroizing::new(String::deserialize(d)?);
    if text.is_empty() {
        return Err(serde::de::Error::custom("the token is empty"));
    }
    Ok(Secret::new(text.to_string()))
}

fn rfc3339<S: Serializer>(t: &OffsetDateTime, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&t.format(&Rfc3339).map_err(serde::ser::Error::custom)?)
}

fn opt_rfc3339<S: Serializer>(t: &Option<OffsetDateTime>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => rfc3339(t, s),
        None => s.serialize_none(),
    }
}

/// RFC 3339, or `YYYY-MM-DD HH:MM:SS` taken as UTC.
pub(crate) fn parse_timestamp(text: &str) -> Option<OffsetDateTime> {
    if let Ok(t) = OffsetDateTime::parse(text, &Rfc3339) {
        return Some(t);
    }
    let plain = format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    time::PrimitiveDateTime::parse(text, plain)
        .ok()
        .map(|t| t.assume_utc())
}

fn timestamp<'de, D: Deserializer<'de>>(d: D) -> Result<OffsetDateTime, D::Error> {
    let text = String::deserialize(d)?;
    parse_timestamp(&text).ok_or_else(|| {
        serde::de::Error::custom(format!(
            "'{}' is not a date (expected RFC 3339 or YYYY-MM-DD HH:MM:SS UTC)",
            crate::error::quote_input(&text, 40)
        ))
    })
}

fn opt_timestamp<'de, D: Deserializer<'de>>(d: D) -> Result<Option<OffsetDateTime>, D::Error> {
    match Option::<String>::deserialize(d)? {
        None => Ok(None),
        Some(text) => parse_timestamp(&text).map(Some).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "'{}' is not a date (expected RFC 3339 or YYYY-MM-DD HH:MM:SS UTC)",
                crate::error::quote_input(&text, 40)
            ))
        }),
    }
}

fn id<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    match Value::deserialize(d)? {
        Value::String(s) if !s.is_empty() => Ok(s),
        Value::Number(n) => Ok(n.to_string()),
        _ => Err(serde::de::Error::custom(
            "gateway_id must be a non-empty string or a number",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_date_formats_and_round_trip() {
        let a: MachineToken = serde_json::from_str(
            r#"{"machine_token":"s3cret","expires_at":"2030-05-01 12:00:00","gateway_id":7}"#,
        )
        .unwrap();
        let b: MachineToken = serde_json::from_str(
            r#"{"machine_token":"s3cret","expires_at":"2030-05-01T12:00:00Z","gateway_id":"7",
                "abilities":[],"issued_at":null}"#,
        )
        .unwrap();
        assert_eq!(a, b);
        let json = serde_json::to_string(&a).unwrap();
        let c: MachineToken = serde_json::from_str(&json).unwrap();
        assert_eq!(a, c);
        assert!(!format!("{a:?}").contains("s3cret"));
    }

    #[test]
    fn renewal_window() {
        let soon = OffsetDateTime::now_utc() + time::Duration::days(3);
        let t = MachineToken {
            machine_token: Secret::new("x".into()),
            expires_at: soon,
            gateway_id: "g".into(),
            abilities: vec![],
            issued_at: None,
        };
        assert!(!t.is_expired());
        assert!(t.needs_renewal(DEFAULT_RENEWAL_WINDOW));
        assert!(!t.needs_renewal(Duration::from_secs(24 * 3600)));
        assert!(t.expires_in() > Duration::from_secs(2 * 24 * 3600));
    }

    #[test]
    fn wrong_shapes_are_errors() {
        for bad in [
            r#"{"expires_at":"2030-01-01 00:00:00","gateway_id":"g"}"#,
            r#"{"machine_token":"","expires_at":"2030-01-01 00:00:00","gateway_id":"g"}"#,
            r#"{"machine_token":"x","expires_at":"tomorrow","gateway_id":"g"}"#,
            r#"{"machine_token":"x","expires_at":"2030-01-01 00:00:00"}"#,
            r#"[1,2]"#,
        ] {
            assert!(serde_json::from_str::<MachineToken>(bad).is_err(), "{bad}");
        }
    }
}
