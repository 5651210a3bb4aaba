//! The verified claims of a token: typed standard and Runbeam claims plus every claim as JSON.

use std::fmt;
use std::sync::OnceLock;

use serde::de::{self, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};

use super::claims_scan::{Aud, Scanned, scan};
use super::compact::invalid;
use crate::error::{Error, ErrorKind};

/// The `aud` claim: absent, one string, or a list.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Audience {
    /// No `aud` claim.
    #[default]
    None,
    /// `"aud": "x"`.
    One(String),
    /// `"aud": ["x", "y"]`.
    Many(Vec<String>),
}

impl Audience {
    /// Every audience named, in order.
    ///
    /// ```
    /// use runbeam_core::jwt::Audience;
    /// let aud = Audience::Many(vec!["a".into(), "b".into()]);
    /// assert_eq!(aud.iter().collect::<Vec<_>>(), ["a", "b"]);
    /// assert!(aud.contains("b"));
    /// ```
    #[inline]
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        let (one, many): (Option<&String>, &[String]) = match self {
            Audience::None => (None, &[]),
            Audience::One(a) => (Some(a), &[]),
            Audience::Many(list) => (None, list),
        };
        one.into_iter().chain(many).map(String::as_str)
    }

    /// Whether `audience` is one of them.
    #[inline]
    pub fn contains(&self, audience: &str) -> bool {
        self.iter().any(|a| a == audience)
    }
}

/// The `user` claim of a Runbeam user JWT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenUser {
    /// The user's id (numbers are given as their decimal text).
    pub id: String,
    /// The user's email, if present.
    pub email: Option<String>,
    /// The user's display name, if present.
    pub name: Option<String>,
}

/// The `team` claim of a Runbeam user JWT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenTeam {
    /// The team's id.
    pub id: String,
    /// The team's name, if present.
    pub name: Option<String>,
}

/// The claims of a verified token. The typed fields are the standard and Runbeam claims;
/// [`Claims::get`], [`Claims::all`] and [`Claims::json`] give every claim, custom ones too.
///
/// Claims are not secret (the token is): `Debug` shows them.
#[derive(Debug, Clone, PartialEq)]
pub struct Claims {
    /// `iss`.
    pub iss: Option<String>,
    /// `sub`.
    pub sub: Option<String>,
    /// `aud`.
    pub aud: Audience,
    /// `exp`, seconds since the Unix epoch (always present: it is required).
    pub exp: i64,
    /// `iat`.
    pub iat: Option<i64>,
    /// `nbf`.
    pub nbf: Option<i64>,
    /// `jti`.
    pub jti: Option<String>,
    /// `user {id, email, name}` of a Runbeam user JWT.
    pub user: Option<TokenUser>,
    /// `team {id, name}` of a Runbeam user JWT.
    pub team: Option<TokenTeam>,
    /// `mesh_id` of a mesh token.
    pub mesh_id: Option<String>,
    /// `dest_url` of a mesh token: the URL it was issued for.
    pub dest_url: Option<String>,
    /// Every claim, parsed from `json` on first use (the hot path never needs it).
    all: OnceLock<Map<String, Value>>,
    json: String,
}

/// The rule of [`Claims::api_base_url`] for an issuer alone: the origin
/// (`scheme://host[:port]`) of `iss`, for bindings that hold the issuer but not the claims.
///
/// ```
/// use runbeam_core::jwt::api_base_url_of;
/// assert_eq!(api_base_url_of(Some("https://app.runbeam.io/api/x"))?, "https://app.runbeam.io");
/// assert!(api_base_url_of(Some("runbeam")).is_err());
/// assert!(api_base_url_of(None).is_err());
/// # Ok::<(), runbeam_core::Error>(())
/// ```
///
/// # Errors
/// `InvalidArgument` when there is no `iss`, or it is not an `http(s)://` URL with a host.
pub fn api_base_url_of(iss: Option<&str>) -> Result<String, Error> {
    let no_url = |why: &str| {
        Error::new(
            ErrorKind::InvalidArgument,
            format!("the token's issuer {why}, so it names no Runbeam API URL"),
        )
    };
    let iss = iss.ok_or_else(|| no_url("is missing"))?;
    let url = url::Url::parse(iss).map_err(|_| {
        no_url(&format!(
            "'{}' is not a URL",
            crate::error::quote_input(iss, 80)
        ))
    })?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(no_url(&format!(
            "'{}' is not an http(s) URL with a host",
            crate::error::quote_input(iss, 80)
        )));
    }
    Ok(url.origin().ascii_serialization())
}

impl Claims {
    /// The claim `name`, any type; `None` when absent.
    #[inline]
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.all().get(name)
    }

    /// Every claim.
    pub fn all(&self) -> &Map<String, Value> {
        self.all
            .get_or_init(|| serde_json::from_str(&self.json).unwrap_or_default())
    }

    /// The Runbeam Cloud API URL this token was issued by: the origin (`scheme://host[:port]`)
    /// of `iss`, which a Runbeam user JWT sets to a URL of its Cloud (e.g.
    /// `https://app.runbeam.io/api/cli/check-login/…` gives `https://app.runbeam.io`). Give it
    /// to [`Client::new`](crate::client::Client::new), which adds `/api`. Only meaningful on
    /// claims whose issuer was checked (a [`Validator`](super::Validator) with trusted issuers).
    ///
    /// ```no_run
    /// # async fn run(validator: runbeam_core::jwt::Validator, user_jwt: &str)
    /// #     -> runbeam_core::Result<()> {
    /// let claims = validator.validate(user_jwt).await?;
    /// let client = runbeam_core::client::Client::new(&claims.api_base_url()?)?;
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    /// `InvalidArgument` when there is no `iss`, or it is not an `http(s)://` URL with a host.
    pub fn api_base_url(&self) -> Result<String, Error> {
        api_base_url_of(self.iss.as_deref())
    }

    /// Whether the claim `name` is present and not null (typed claims answer without
    /// parsing the others).
    #[inline]
    pub fn has(&self, name: &str) -> bool {
        match name {
            "exp" => true,
            "iss" => self.iss.is_some(),
            "sub" => self.sub.is_some(),
            "aud" => self.aud != Audience::None,
            "iat" => self.iat.is_some(),
            "nbf" => self.nbf.is_some(),
            "jti" => self.jti.is_some(),
            "user" => self.user.is_some(),
            "team" => self.team.is_some(),
            "mesh_id" => self.mesh_id.is_some(),
            "dest_url" => self.dest_url.is_some(),
            _ => self.get(name).is_some_and(|v| !v.is_null()),
        }
    }

    /// Parses a token's payload: typed in one pass; on a type error the slower generic
    /// reading names the claim at fault.
    #[inline]
    pub(crate) fn parse(json: String) -> Result<Claims, Error> {
        if !super::compact::is_json_object(json.as_bytes()) {
            return Err(invalid("the token's payload is not a JSON object"));
        }
        // The common shape in one pass without serde (see `claims_scan`); serde otherwise.
        if let Some(s) = scan(&json) {
            return Claims::from_scanned(s).map(|c| c.with_json(json));
        }
        Claims::parse_serde(json)
    }

    /// The claims of a scanned payload (its `json` not yet attached).
    #[inline]
    fn from_scanned(s: Scanned<'_>) -> Result<Claims, Error> {
        let own = |v: Option<&str>| v.map(str::to_owned);
        Ok(Claims {
            iss: own(s.iss),
            sub: own(s.sub),
            aud: match s.aud {
                None => Audience::None,
                Some(Aud::One(a)) => Audience::One(a.to_owned()),
                Some(Aud::Many(list)) => {
                    Audience::Many(list.into_iter().map(str::to_owned).collect())
                }
            },
            exp: s.exp.ok_or_else(no_exp)?,
            iat: s.iat,
            nbf: s.nbf,
            jti: own(s.jti),
            user: s.user.map(|u| TokenUser {
                id: u.id.to_owned(),
                email: own(u.email),
                name: own(u.name),
            }),
            team: s.team.map(|t| TokenTeam {
                id: t.id.to_owned(),
                name: own(t.name),
            }),
            mesh_id: own(s.mesh_id),
            dest_url: own(s.dest_url),
            all: OnceLock::new(),
            json: String::new(),
        })
    }

    #[inline]
    fn with_json(mut self, json: String) -> Claims {
        self.json = json;
        self
    }

    /// [`Claims::parse`] by serde: typed in one pass; on a type error the slower generic
    /// reading names the claim at fault.
    pub(crate) fn parse_serde(json: String) -> Result<Claims, Error> {
        if !super::compact::is_json_object(json.as_bytes()) {
            return Err(invalid("the token's payload is not a JSON object"));
        }
        match serde_json::from_str::<Wire>(&json) {
            Ok(w) => {
                let exp = w.exp.ok_or_else(no_exp)?.0;
                Ok(Claims {
                    iss: w.iss,
                    sub: w.sub,
                    aud: match w.aud {
                        None => Audience::None,
                        Some(AudWire::One(a)) => Audience::One(a),
                        Some(AudWire::Many(list)) => Audience::Many(list),
                    },
                    exp,
                    iat: w.iat.map(|d| d.0),
                    nbf: w.nbf.map(|d| d.0),
                    jti: w.jti,
                    user: w.user.map(|u| TokenUser {
                        id: u.id.0,
                        email: u.email,
                        name: u.name,
                    }),
                    team: w.team.map(|t| TokenTeam {
                        id: t.id.0,
                        name: t.name,
                    }),
                    mesh_id: w.mesh_id,
                    dest_url: w.dest_url,
                    all: OnceLock::new(),
                    json,
                })
            }
            Err(_) => {
                let map: Map<String, Value> = serde_json::from_str(&json)
                    .map_err(|_| invalid("the token's payload is not a JSON object"))?;
                Claims::from_payload(map, json)?;
                Err(invalid(
                    "the token's payload has a duplicate or malformed claim",
                ))
            }
        }
    }

    /// The payload exactly as the token carried it (a JSON object).
    #[inline]
    pub fn json(&self) -> &str {
        &self.json
    }

    /// A string claim, e.g. `mesh_id`.
    #[inline]
    pub fn get_str(&self, name: &str) -> Option<&str> {
        self.get(name).and_then(Value::as_str)
    }

    /// The generic reading of a payload, naming the claim at fault.
    pub(crate) fn from_payload(all: Map<String, Value>, json: String) -> Result<Claims, Error> {
        let exp = match all.get("exp") {
            None | Some(Value::Null) => return Err(no_exp()),
            Some(v) => numeric_date("exp", v)?,
        };
        let iat = optional(&all, "iat", numeric_date)?;
        let nbf = optional(&all, "nbf", numeric_date)?;
        let iss = optional(&all, "iss", string)?;
        let sub = optional(&all, "sub", string)?;
        let jti = optional(&all, "jti", string)?;
        let mesh_id = optional(&all, "mesh_id", string)?;
        let dest_url = optional(&all, "dest_url", string)?;
        let aud = match all.get("aud") {
            None | Some(Value::Null) => Audience::None,
            Some(Value::String(a)) => Audience::One(a.clone()),
            Some(Value::Array(list)) => Audience::Many(
                list.iter()
                    .map(|v| string("aud", v))
                    .collect::<Result<_, _>>()?,
            ),
            Some(_) => return Err(invalid("the token's 'aud' is not a string or a list")),
        };
        let user = optional(&all, "user", |_, v| {
            Ok(TokenUser {
                id: id("user.id", v.get("id"))?,
                email: v.get("email").and_then(Value::as_str).map(str::to_owned),
                name: v.get("name").and_then(Value::as_str).map(str::to_owned),
            })
        })?;
        let team = optional(&all, "team", |_, v| {
            Ok(TokenTeam {
                id: id("team.id", v.get("id"))?,
                name: v.get("name").and_then(Value::as_str).map(str::to_owned),
            })
        })?;
        Ok(Claims {
            iss,
            sub,
            aud,
            exp,
            iat,
            nbf,
            jti,
            user,
            team,
            mesh_id,
            dest_url,
            all: OnceLock::from(all),
            json,
        })
    }
}

fn no_exp() -> Error {
    invalid("the token has no 'exp' claim; tokens without an expiry are not accepted")
}

/// The typed reading of a payload; unknown claims are skipped.
#[derive(Deserialize)]
struct Wire {
    iss: Option<String>,
    sub: Option<String>,
    aud: Option<AudWire>,
    exp: Option<NumericDate>,
    iat: Option<NumericDate>,
    nbf: Option<NumericDate>,
    jti: Option<String>,
    user: Option<UserWire>,
    team: Option<TeamWire>,
    mesh_id: Option<String>,
    dest_url: Option<String>,
}

/// `aud`: one string or a list of strings, read in place (an untagged enum would buffer the
/// value first).
enum AudWire {
    One(String),
    Many(Vec<String>),
}

impl<'de> Deserialize<'de> for AudWire {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Read;
        impl<'de> Visitor<'de> for Read {
            type Value = AudWire;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or a list of strings")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<AudWire, E> {
                Ok(AudWire::One(s.to_owned()))
            }
            fn visit_string<E: de::Error>(self, s: String) -> Result<AudWire, E> {
                Ok(AudWire::One(s))
            }
            fn visit_seq<S: SeqAccess<'de>>(self, mut seq: S) -> Result<AudWire, S::Error> {
                let mut list = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(16));
                while let Some(a) = seq.next_element::<String>()? {
                    list.push(a);
                }
                Ok(AudWire::Many(list))
            }
        }
        d.deserialize_any(Read)
    }
}

#[derive(Deserialize)]
struct UserWire {
    id: Id,
    email: Option<String>,
    name: Option<String>,
}

#[derive(Deserialize)]
struct TeamWire {
    id: Id,
    name: Option<String>,
}

/// Seconds since the epoch, integer or fractional.
struct NumericDate(i64);

impl<'de> Deserialize<'de> for NumericDate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let n = serde_json::Number::deserialize(d)?;
        n.as_i64()
            .or_else(|| n.as_f64().filter(|f| f.is_finite()).map(|f| f as i64))
            .map(NumericDate)
            .ok_or_else(|| serde::de::Error::custom("not a numeric date"))
    }
}

/// An id given as a string or a number (a number as the text `serde_json` writes for it, as
/// the generic reading gives), read in place rather than through a buffered `Value`.
struct Id(String);

impl<'de> Deserialize<'de> for Id {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Read;
        impl Visitor<'_> for Read {
            type Value = Id;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or a number")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Id, E> {
                Ok(Id(s.to_owned()))
            }
            fn visit_string<E: de::Error>(self, s: String) -> Result<Id, E> {
                Ok(Id(s))
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<Id, E> {
                Ok(Id(serde_json::Number::from(n).to_string()))
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<Id, E> {
                Ok(Id(serde_json::Number::from(n).to_string()))
            }
            fn visit_f64<E: de::Error>(self, n: f64) -> Result<Id, E> {
                serde_json::Number::from_f64(n)
                    .map(|n| Id(n.to_string()))
                    .ok_or_else(|| E::custom("not a finite number"))
            }
        }
        d.deserialize_any(Read)
    }
}

fn optional<T>(
    all: &Map<String, Value>,
    name: &str,
    read: impl Fn(&str, &Value) -> Result<T, Error>,
) -> Result<Option<T>, Error> {
    match all.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => read(name, v).map(Some),
    }
}

fn numeric_date(name: &str, v: &Value) -> Result<i64, Error> {
    v.as_i64()
        .or_else(|| v.as_f64().filter(|f| f.is_finite()).map(|f| f as i64))
        .ok_or_else(|| {
            invalid(format!(
                "the token's '{name}' is not a number of seconds since the epoch"
            ))
        })
}

fn string(name: &str, v: &Value) -> Result<String, Error> {
    v.as_str()
        .map(str::to_owned)
        .ok_or_else(|| invalid(format!("the token's '{name}' is not a string")))
}

fn id(name: &str, v: Option<&Value>) -> Result<String, Error> {
    match v {
        Some(Value::String(s)) => Ok(s.clone()),
        Some(Value::Number(n)) => Ok(n.to_string()),
        _ => Err(invalid(format!(
            "the token's '{name}' is missing or not a string or number"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn claims(v: Value) -> Result<Claims, Error> {
        let text = v.to_string();
        let Value::Object(map) = v else { panic!() };
        let generic = Claims::from_payload(map, text.clone());
        let typed = Claims::parse(text);
        // Both readings agree on what they accept.
        assert_eq!(generic.is_ok(), typed.is_ok(), "{generic:?} vs {typed:?}");
        typed.or(generic)
    }

    #[test]
    fn api_base_url_is_the_origin_of_the_issuer() {
        for (iss, origin) in [
            (
                "https://app.runbeam.io/api/cli/check-login/abc",
                "https://app.runbeam.io",
            ),
            ("http://127.0.0.1:8080/api", "http://127.0.0.1:8080"),
            ("https://cloud.example:8443", "https://cloud.example:8443"),
            ("https://cloud.example:443/x", "https://cloud.example"),
        ] {
            let c = claims(json!({"iss": iss, "exp": 4_102_444_800_i64})).unwrap();
            assert_eq!(c.api_base_url().unwrap(), origin, "{iss}");
        }
        for iss in [
            json!("runbeam"),
            json!("urn:runbeam:cloud"),
            json!("file:///etc/passwd"),
            json!("ftp://x.example"),
        ] {
            let c = claims(json!({"iss": iss, "exp": 4_102_444_800_i64})).unwrap();
            let err = c.api_base_url().unwrap_err();
            assert_eq!(err.kind(), crate::ErrorKind::InvalidArgument, "{iss}");
            assert!(err.message().contains("names no Runbeam API URL"), "{err}");
        }
        let none = claims(json!({"exp": 4_102_444_800_i64})).unwrap();
        assert!(
            none.api_base_url()
                .unwrap_err()
                .message()
                .contains("missing")
        );
    }

    #[test]
    fn reads_typed_and_custom_claims() {
        let c = claims(json!({
            "iss": "https://api.runbeam.io/api", "sub": "7", "aud": ["a", "b"], "exp": 2e9,
            "iat": 1_700_000_000, "jti": "j", "user": {"id": 7, "email": "e@x", "name": "N"},
            "team": {"id": "t1", "name": "Radiology"}, "mesh_id": "m1"
        }))
        .unwrap();
        assert_eq!(c.exp, 2_000_000_000);
        assert_eq!(c.iat, Some(1_700_000_000));
        assert_eq!(c.nbf, None);
        assert!(c.aud.contains("b"));
        assert_eq!(c.user.as_ref().unwrap().id, "7");
        assert_eq!(c.team.as_ref().unwrap().name.as_deref(), Some("Radiology"));
        assert_eq!(c.get_str("mesh_id"), Some("m1"));
        assert!(c.json().contains("\"mesh_id\""));
    }

    #[test]
    fn typed_and_generic_readings_give_the_same_ids_and_audiences() {
        for id in [
            json!(7),
            json!(-3),
            json!(7.5),
            json!(1e20),
            json!(18446744073709551615_u64),
            json!("t-1"),
        ] {
            let payload =
                json!({"exp": 1, "user": {"id": id}, "team": {"id": id}, "aud": ["a", "b"]});
            let text = payload.to_string();
            let Value::Object(map) = payload else {
                panic!()
            };
            let generic = Claims::from_payload(map, text.clone()).unwrap();
            let typed = Claims::parse(text).unwrap();
            // Compare with every claim parsed on both sides (`all` is filled on first use).
            assert_eq!(typed.all(), generic.all());
            assert_eq!(typed, generic, "{id}");
        }
        let one = Claims::parse(r#"{"exp":1,"aud":"x"}"#.into()).unwrap();
        assert_eq!(one.aud, Audience::One("x".into()));
        let none = Claims::parse(r#"{"exp":1,"aud":null}"#.into()).unwrap();
        assert_eq!(none.aud, Audience::None);
        let empty = Claims::parse(r#"{"exp":1,"aud":[]}"#.into()).unwrap();
        assert_eq!(empty.aud, Audience::Many(vec![]));
        for bad in [
            r#"{"exp":1,"aud":{"a":1}}"#,
            r#"{"exp":1,"aud":[null]}"#,
            r#"{"exp":1,"user":{"id":true}}"#,
            r#"{"exp":1,"user":{"id":[1]}}"#,
            r#"{"exp":1,"team":{"id":null}}"#,
        ] {
            assert!(Claims::parse(bad.into()).is_err(), "{bad}");
        }
    }

    #[test]
    fn refuses_wrong_types() {
        assert!(
            claims(json!({}))
                .unwrap_err()
                .message()
                .contains("no 'exp'")
        );
        assert!(claims(json!({"exp": "soon"})).is_err());
        assert!(claims(json!({"exp": 1, "aud": 3})).is_err());
        assert!(claims(json!({"exp": 1, "aud": ["a", 3]})).is_err());
        assert!(claims(json!({"exp": 1, "iss": 3})).is_err());
        assert!(claims(json!({"exp": 1, "user": {"email": "x"}})).is_err());
        let dup = Claims::parse(r#"{"exp": 1, "sub": "a", "sub": "b"}"#.into()).unwrap_err();
        assert!(dup.message().contains("duplicate"), "{dup}");
        let wrong = Claims::parse(r#"{"exp": "soon"}"#.into()).unwrap_err();
        assert!(wrong.message().contains("'exp'"), "{wrong}");
    }
}
