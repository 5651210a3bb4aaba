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
    /// When it was issued or stored, if known. Always written (runbeam-sdk 0.11 requires it):
    /// a token without it is written with the time it is stored.
    #[serde(
        default,
        serialize_with = "issued_or_now",
        deserialize_with = "opt_timestamp"
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
    /// A token from its parts (what `/harmony/authorize` answers), issued now.
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
            issued_at: Some(OffsetDateTime::now_utc()),
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
    /// When it expires, if known. Written as Unix seconds, as runbeam-sdk 0.11 does; read as
    /// seconds or as a date (what librunbeam 0.1 wrote).
    #[serde(
        default,
        serialize_with = "opt_unix_seconds",
        deserialize_with = "opt_seconds_or_timestamp",
        skip_serializing_if = "Option::is_none"
    )]
    pub expires_at: Option<OffsetDateTime>,
    /// Who it belongs to (`{id, email, name}` as the Cloud gives it; runbeam-sdk 0.11 reads a
    /// user only when it has those three strings).
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

fn issued_or_now<S: Serializer>(t: &Option<OffsetDateTime>, s: S) -> Result<S::Ok, S::Error> {
    rfc3339(&t.unwrap_or_else(OffsetDateTime::now_utc), s)
}

fn opt_unix_seconds<S: Serializer>(t: &Option<OffsetDateTime>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => s.serialize_i64(t.unix_timestamp()),
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

fn opt_seconds_or_timestamp<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<OffsetDateTime>, D::Error> {
    match Option::<Value>::deserialize(d)? {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_i64()
            .and_then(|secs| OffsetDateTime::from_unix_timestamp(secs).ok())
            .map(Some)
            .ok_or_else(|| {
                serde::de::Error::custom(
                    "expires_at is not a whole number of Unix seconds in range",
                )
            }),
        Some(Value::String(text)) => parse_timestamp(&text).map(Some).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "'{}' is not a date (expected Unix seconds, RFC 3339 or YYYY-MM-DD HH:MM:SS UTC)",
                crate::error::quote_input(&text, 40)
            ))
        }),
        Some(_) => Err(serde::de::Error::custom(
            "expires_at must be Unix seconds or a date",
        )),
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
        assert_eq!(a.issued_at, None);
        // Written with the time it is stored (runbeam-sdk 0.11 requires `issued_at`).
        let before = OffsetDateTime::now_utc().replace_nanosecond(0).unwrap();
        let json = serde_json::to_string(&a).unwrap();
        let c: MachineToken = serde_json::from_str(&json).unwrap();
        assert!(c.issued_at.is_some_and(|at| at >= before), "{json}");
        assert_eq!(
            MachineToken {
                issued_at: None,
                ..c.clone()
            },
            a
        );
        // Once known, it round-trips.
        assert_eq!(
            serde_json::from_str::<MachineToken>(&serde_json::to_string(&c).unwrap()).unwrap(),
            c
        );
        assert!(!format!("{a:?}").contains("s3cret"));
    }

    #[test]
    fn reads_what_runbeam_sdk_0_11_writes() {
        // chrono's to_rfc3339: nanoseconds and a `+00:00` offset.
        let t: MachineToken = serde_json::from_str(
            r#"{"machine_token":"mt","expires_at":"2030-05-01T12:00:00+00:00","gateway_id":"gw",
                "abilities":["harmony:send"],"issued_at":"2026-12-05T08:01:02.123456789+00:00"}"#,
        )
        .unwrap();
        assert_eq!(t.issued_at.unwrap().nanosecond(), 123_456_789);
        let u: UserToken = serde_json::from_str(
            r#"{"token":"jwt","expires_at":1900000000,"user":{"id":"1","email":"a@b.c","name":"A"}}"#,
        )
        .unwrap();
        assert_eq!(u.expires_at.unwrap().unix_timestamp(), 1_900_000_000);
        // Written back as Unix seconds, as the SDK reads it.
        let json: Value = serde_json::to_value(&u).unwrap();
        assert_eq!(json["expires_at"], 1_900_000_000);
    }

    #[test]
    fn user_token_expiry_as_written_by_librunbeam_0_1() {
        let u: UserToken =
            serde_json::from_str(r#"{"token":"jwt","expires_at":"2030-05-01T12:00:00Z"}"#).unwrap();
        assert_eq!(u.expires_at.unwrap().year(), 2030);
        for bad in [
            r#"{"token":"jwt","expires_at":"soon"}"#,
            r#"{"token":"jwt","expires_at":1.5}"#,
            r#"{"token":"jwt","expires_at":true}"#,
            r#"{"token":"jwt","expires_at":99999999999999999}"#,
        ] {
            assert!(serde_json::from_str::<UserToken>(bad).is_err(), "{bad}");
        }
        let none: UserToken = serde_json::from_str(r#"{"token":"jwt","expires_at":null}"#).unwrap();
        assert_eq!(none.expires_at, None);
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
