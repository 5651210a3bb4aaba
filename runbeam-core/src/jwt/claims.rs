//! The verified claims of a token: typed standard and Runbeam claims plus every claim as JSON.

use serde_json::{Map, Value};

use super::compact::invalid;
use crate::error::Error;

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
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        let (one, many): (Option<&String>, &[String]) = match self {
            Audience::None => (None, &[]),
            Audience::One(a) => (Some(a), &[]),
            Audience::Many(list) => (None, list),
        };
        one.into_iter().chain(many).map(String::as_str)
    }

    /// Whether `audience` is one of them.
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
    all: Map<String, Value>,
    json: String,
}

impl Claims {
    /// The claim `name`, any type; `None` when absent.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.all.get(name)
    }

    /// Every claim.
    pub fn all(&self) -> &Map<String, Value> {
        &self.all
    }

    /// The payload exactly as the token carried it (a JSON object).
    pub fn json(&self) -> &str {
        &self.json
    }

    /// A string claim, e.g. `mesh_id`.
    pub fn get_str(&self, name: &str) -> Option<&str> {
        self.all.get(name).and_then(Value::as_str)
    }

    pub(crate) fn from_payload(all: Map<String, Value>, json: String) -> Result<Claims, Error> {
        let exp = match all.get("exp") {
            None | Some(Value::Null) => {
                return Err(invalid(
                    "the token has no 'exp' claim; tokens without an expiry are not accepted",
                ));
            }
            Some(v) => numeric_date("exp", v)?,
        };
        let iat = optional(&all, "iat", numeric_date)?;
        let nbf = optional(&all, "nbf", numeric_date)?;
        let iss = optional(&all, "iss", string)?;
        let sub = optional(&all, "sub", string)?;
        let jti = optional(&all, "jti", string)?;
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
            all,
            json,
        })
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
        Claims::from_payload(map, text)
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
    }
}
