//! The seed: teams, users, gateways and resources a devcloud starts with (TOML).

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::path::Path;

use serde_json::{Map, Value, json};

use crate::model::Collection;

const DEFAULT_MACHINE_TOKEN_LIFETIME_SECS: u64 = 30 * 24 * 3600;

/// Why a seed could not be loaded: the TOML path of the problem and what is wrong there.
///
/// ```
/// use runbeam_devcloud::Seed;
/// let err = Seed::from_toml("[[teams]]\nid = \"T1\"\nslug = \"Bad Slug\"\nname = \"x\"\n")
///     .unwrap_err();
/// assert_eq!(err.path(), "teams[0].slug");
/// assert!(err.to_string().starts_with("teams[0].slug: "));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeedError {
    path: String,
    message: String,
}

impl SeedError {
    fn new(path: impl Into<String>, message: impl Into<String>) -> SeedError {
        SeedError {
            path: path.into(),
            message: message.into(),
        }
    }

    /// The TOML path of the problem (`ingresses[0].mesh`), empty for whole-file problems.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// What is wrong at [`path`](Self::path).
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for SeedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

impl std::error::Error for SeedError {}

/// A team of the seed.
#[derive(Debug, Clone)]
pub(crate) struct Team {
    pub(crate) id: String,
    pub(crate) slug: String,
    pub(crate) name: String,
}

/// A user of the seed, with its Sanctum tokens.
#[derive(Debug, Clone)]
pub(crate) struct User {
    pub(crate) id: String,
    pub(crate) email: String,
    pub(crate) name: String,
    pub(crate) team_id: String,
    pub(crate) tokens: Vec<String>,
}

/// What a devcloud starts with: teams, users (with Sanctum tokens), gateways, meshes,
/// ingresses, egresses, pipelines, services, endpoints and backends.
///
/// The format is documented at the top of `examples/devcloud/seed.toml`.
///
/// ```
/// use runbeam_devcloud::Seed;
/// let seed = Seed::example();
/// assert!(seed.team_id("radiology-dept").is_some());
/// let custom = Seed::from_toml(r#"
///     [[teams]]
///     id = "T1"
///     slug = "acme"
///     name = "Acme"
/// "#)?;
/// assert_eq!(custom.team_id("acme"), Some("T1"));
/// # Ok::<(), runbeam_devcloud::SeedError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Seed {
    pub(crate) machine_token_lifetime_secs: u64,
    pub(crate) teams: Vec<Team>,
    pub(crate) users: Vec<User>,
    pub(crate) resources: BTreeMap<Collection, Vec<Map<String, Value>>>,
}

impl Seed {
    /// Parses a seed from TOML text.
    ///
    /// # Errors
    /// A [`SeedError`] naming the TOML path of the first problem (syntax, unknown key, wrong
    /// type, dangling reference, duplicate id or name).
    pub fn from_toml(text: &str) -> Result<Seed, SeedError> {
        let table: toml::Table = text
            .parse()
            .map_err(|e: toml::de::Error| SeedError::new("", e.to_string().trim_end()))?;
        Loader::default().load(&table)
    }

    /// Reads and parses a seed file.
    ///
    /// # Errors
    /// A [`SeedError`] when the file cannot be read (path empty, message naming the file) or
    /// does not parse (see [`from_toml`](Self::from_toml)).
    pub fn from_file(path: impl AsRef<Path>) -> Result<Seed, SeedError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| {
            SeedError::new("", format!("cannot read seed file {}: {e}", path.display()))
        })?;
        Seed::from_toml(&text)
            .map_err(|e| SeedError::new(e.path, format!("{} (in {})", e.message, path.display())))
    }

    /// The example seed shipped as `examples/devcloud/seed.toml`: the two-team scenario
    /// (`radiology-dept` with the `dicomweb` ingress, `ai-analytics` with the `imaging-out`
    /// egress, both in the mesh `imaging-integration`).
    ///
    /// ```
    /// let seed = runbeam_devcloud::Seed::example();
    /// assert_eq!(seed.team_id("ai-analytics"), Some("01JDWS3E28JT97KB6CQ643DZVM"));
    /// ```
    pub fn example() -> Seed {
        // The file is part of this crate and covered by a test; failing here is a build bug.
        #[allow(clippy::expect_used)]
        Seed::from_toml(include_str!("../../examples/devcloud/seed.toml"))
            .expect("examples/devcloud/seed.toml is a valid seed")
    }

    /// The id of the team with this slug.
    pub fn team_id(&self, slug: &str) -> Option<&str> {
        self.teams
            .iter()
            .find(|t| t.slug == slug)
            .map(|t| t.id.as_str())
    }

    /// The machine-token lifetime the devcloud starts with, in seconds.
    pub fn machine_token_lifetime_secs(&self) -> u64 {
        self.machine_token_lifetime_secs
    }
}

/// Keys of each collection's entries, besides `id` and `team`.
fn allowed_keys(c: Collection) -> &'static [&'static str] {
    match c {
        Collection::Gateways => &["code", "name", "description", "enabled"],
        Collection::Meshes => &["name", "protocol", "description", "enabled"],
        Collection::Services => &["name", "url", "description", "enabled"],
        Collection::Pipelines => &["name", "gateway", "description", "enabled"],
        Collection::Endpoints => &["name", "pipeline", "path", "description", "enabled"],
        Collection::Backends => &["name", "pipeline", "url", "description", "enabled"],
        Collection::Ingresses => &[
            "name",
            "urls",
            "protocol",
            "mode",
            "mesh",
            "pipeline",
            "gateway",
            "endpoint",
            "description",
            "enabled",
        ],
        Collection::Egresses => &[
            "name",
            "protocol",
            "mode",
            "mesh",
            "pipeline",
            "gateway",
            "backend",
            "description",
            "enabled",
        ],
    }
}

/// Order in which collections are loaded, so references point backwards.
const LOAD_ORDER: [Collection; 8] = [
    Collection::Gateways,
    Collection::Meshes,
    Collection::Services,
    Collection::Pipelines,
    Collection::Endpoints,
    Collection::Backends,
    Collection::Ingresses,
    Collection::Egresses,
];

#[derive(Default)]
struct Loader {
    ids: HashSet<String>,
    teams: Vec<Team>,
    users: Vec<User>,
    resources: BTreeMap<Collection, Vec<Map<String, Value>>>,
}

struct Entry<'a> {
    path: String,
    table: &'a toml::Table,
}

impl Entry<'_> {
    fn at(&self, key: &str) -> String {
        format!("{}.{key}", self.path)
    }

    fn check_keys(&self, allowed: &[&str]) -> Result<(), SeedError> {
        for key in self.table.keys() {
            if !allowed.contains(&key.as_str()) {
                return Err(SeedError::new(
                    self.at(key),
                    format!("unknown key (expected one of {})", allowed.join(", ")),
                ));
            }
        }
        Ok(())
    }

    fn opt_str(&self, key: &str) -> Result<Option<&str>, SeedError> {
        match self.table.get(key) {
            None => Ok(None),
            Some(toml::Value::String(s)) => Ok(Some(s)),
            Some(other) => Err(SeedError::new(
                self.at(key),
                format!("expected a string, found {}", other.type_str()),
            )),
        }
    }

    fn str(&self, key: &str) -> Result<&str, SeedError> {
        match self.opt_str(key)? {
            Some(s) if !s.is_empty() => Ok(s),
            Some(_) => Err(SeedError::new(self.at(key), "must not be empty")),
            None => Err(SeedError::new(self.at(key), "missing required key")),
        }
    }

    fn opt_bool(&self, key: &str) -> Result<Option<bool>, SeedError> {
        match self.table.get(key) {
            None => Ok(None),
            Some(toml::Value::Boolean(b)) => Ok(Some(*b)),
            Some(other) => Err(SeedError::new(
                self.at(key),
                format!("expected a boolean, found {}", other.type_str()),
            )),
        }
    }

    fn str_array(&self, key: &str) -> Result<Option<Vec<String>>, SeedError> {
        match self.table.get(key) {
            None => Ok(None),
            Some(toml::Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(i, v)| match v {
                    toml::Value::String(s) => Ok(s.clone()),
                    other => Err(SeedError::new(
                        format!("{}[{i}]", self.at(key)),
                        format!("expected a string, found {}", other.type_str()),
                    )),
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(other) => Err(SeedError::new(
                self.at(key),
                format!("expected an array of strings, found {}", other.type_str()),
            )),
        }
    }
}

fn entries<'a>(table: &'a toml::Table, key: &str) -> Result<Vec<Entry<'a>>, SeedError> {
    match table.get(key) {
        None => Ok(Vec::new()),
        Some(toml::Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, v)| match v {
                toml::Value::Table(t) => Ok(Entry {
                    path: format!("{key}[{i}]"),
                    table: t,
                }),
                other => Err(SeedError::new(
                    format!("{key}[{i}]"),
                    format!("expected a table, found {}", other.type_str()),
                )),
            })
            .collect(),
        Some(other) => Err(SeedError::new(
            key,
            format!(
                "expected an array of tables ([[{key}]]), found {}",
                other.type_str()
            ),
        )),
    }
}

impl Loader {
    fn load(mut self, table: &toml::Table) -> Result<Seed, SeedError> {
        let mut top: Vec<&str> = vec!["machine_token_lifetime_secs", "teams", "users"];
        top.extend(LOAD_ORDER.iter().map(|c| c.as_str()));
        for key in table.keys() {
            if !top.contains(&key.as_str()) {
                return Err(SeedError::new(
                    key.as_str(),
                    format!("unknown key (expected one of {})", top.join(", ")),
                ));
            }
        }
        let lifetime = match table.get("machine_token_lifetime_secs") {
            None => DEFAULT_MACHINE_TOKEN_LIFETIME_SECS,
            Some(toml::Value::Integer(n)) if *n > 0 => u64::try_from(*n).unwrap_or(u64::MAX),
            Some(_) => {
                return Err(SeedError::new(
                    "machine_token_lifetime_secs",
                    "expected a positive integer (seconds)",
                ));
            }
        };
        for entry in entries(table, "teams")? {
            self.team(&entry)?;
        }
        for entry in entries(table, "users")? {
            self.user(&entry)?;
        }
        for c in LOAD_ORDER {
            for entry in entries(table, c.as_str())? {
                self.resource(c, &entry)?;
            }
        }
        Ok(Seed {
            machine_token_lifetime_secs: lifetime,
            teams: self.teams,
            users: self.users,
            resources: self.resources,
        })
    }

    fn new_id(&mut self, entry: &Entry<'_>) -> Result<String, SeedError> {
        let id = entry.str("id")?;
        // Seeded ids are ids references can name (docs/spec.md §1.1).
        if !crate::contract::is_id(id) {
            return Err(SeedError::new(
                entry.at("id"),
                "ids are 1-128 characters of A-Z, a-z, 0-9, _ and -",
            ));
        }
        if !self.ids.insert(id.to_owned()) {
            return Err(SeedError::new(
                entry.at("id"),
                format!("duplicate id '{id}'"),
            ));
        }
        Ok(id.to_owned())
    }

    fn team_of(&self, entry: &Entry<'_>) -> Result<String, SeedError> {
        let slug = entry.str("team")?;
        self.teams
            .iter()
            .find(|t| t.slug == slug)
            .map(|t| t.id.clone())
            .ok_or_else(|| SeedError::new(entry.at("team"), format!("unknown team '{slug}'")))
    }

    fn team(&mut self, entry: &Entry<'_>) -> Result<(), SeedError> {
        entry.check_keys(&["id", "slug", "name"])?;
        let id = self.new_id(entry)?;
        let slug = entry.str("slug")?;
        // A team slug is the `<team>` of a reference (docs/spec.md §1.1).
        if !crate::contract::is_name(slug) {
            return Err(SeedError::new(
                entry.at("slug"),
                "a team slug is 1-128 characters of a-z, 0-9, _ and -, starting with a letter or digit",
            ));
        }
        if self.teams.iter().any(|t| t.slug == slug) {
            return Err(SeedError::new(
                entry.at("slug"),
                format!("duplicate team '{slug}'"),
            ));
        }
        let name = entry.str("name")?.to_owned();
        self.teams.push(Team {
            id,
            slug: slug.to_owned(),
            name,
        });
        Ok(())
    }

    fn user(&mut self, entry: &Entry<'_>) -> Result<(), SeedError> {
        entry.check_keys(&["id", "email", "name", "team", "tokens"])?;
        let id = self.new_id(entry)?;
        let email = entry.str("email")?.to_owned();
        if !email.contains('@') {
            return Err(SeedError::new(entry.at("email"), "not an email address"));
        }
        if self
            .users
            .iter()
            .any(|u| u.email.eq_ignore_ascii_case(&email))
        {
            return Err(SeedError::new(
                entry.at("email"),
                format!("duplicate email '{email}'"),
            ));
        }
        let name = entry.str("name")?.to_owned();
        let team_id = self.team_of(entry)?;
        let tokens = entry.str_array("tokens")?.unwrap_or_default();
        for (i, token) in tokens.iter().enumerate() {
            let ok = token.split_once('|').is_some_and(|(id, secret)| {
                !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()) && !secret.is_empty()
            });
            if !ok {
                return Err(SeedError::new(
                    format!("{}[{i}]", entry.at("tokens")),
                    "a Sanctum token is '<digits>|<secret>'",
                ));
            }
            if self.users.iter().any(|u| u.tokens.contains(token)) {
                return Err(SeedError::new(
                    format!("{}[{i}]", entry.at("tokens")),
                    "duplicate token",
                ));
            }
        }
        self.users.push(User {
            id,
            email,
            name,
            team_id,
            tokens,
        });
        Ok(())
    }

    /// Finds the id of a resource of `c` named `name` (gateways: by code) in `team_id`
    /// (meshes: own team first, then any team).
    fn lookup(&self, c: Collection, team_id: &str, name: &str) -> Option<String> {
        let key = if c == Collection::Gateways {
            "code"
        } else {
            "name"
        };
        let list = self.resources.get(&c)?;
        let matches = |r: &&Map<String, Value>| r.get(key).and_then(Value::as_str) == Some(name);
        let in_team = list
            .iter()
            .filter(matches)
            .find(|r| r.get("team_id").and_then(Value::as_str) == Some(team_id));
        let found = match in_team {
            Some(r) => Some(r),
            None if c == Collection::Meshes => {
                let mut all = list.iter().filter(matches);
                match (all.next(), all.next()) {
                    (Some(r), None) => Some(r),
                    _ => None,
                }
            }
            None => None,
        };
        found.and_then(|r| r.get("id").and_then(Value::as_str).map(str::to_owned))
    }

    fn resource(&mut self, c: Collection, entry: &Entry<'_>) -> Result<(), SeedError> {
        let mut allowed = vec!["id", "team"];
        allowed.extend_from_slice(allowed_keys(c));
        entry.check_keys(&allowed)?;
        let id = self.new_id(entry)?;
        let team_id = self.team_of(entry)?;
        let mut obj = Map::new();
        obj.insert("id".into(), json!(id));
        obj.insert("team_id".into(), json!(team_id));

        let name_key = if c == Collection::Gateways {
            "code"
        } else {
            "name"
        };
        let name = entry.str(name_key)?;
        // The `<name>` of a reference (docs/spec.md §1.1).
        if !crate::contract::is_name(name) {
            return Err(SeedError::new(
                entry.at(name_key),
                "names are 1-128 characters of a-z, 0-9, _ and -, starting with a letter or digit",
            ));
        }
        let duplicate = self.resources.get(&c).is_some_and(|l| {
            l.iter().any(|r| {
                r.get(name_key).and_then(Value::as_str) == Some(name)
                    && (c == Collection::Gateways
                        || r.get("team_id").and_then(Value::as_str) == Some(team_id.as_str()))
            })
        });
        if duplicate {
            return Err(SeedError::new(
                entry.at(name_key),
                format!("duplicate {} '{name}'", c.singular()),
            ));
        }
        if c == Collection::Gateways {
            obj.insert("code".into(), json!(name));
            let display = entry.opt_str("name")?.unwrap_or(name);
            obj.insert("name".into(), json!(display));
        } else {
            obj.insert("name".into(), json!(name));
        }
        obj.insert(
            "description".into(),
            entry
                .opt_str("description")?
                .map_or(Value::Null, |d| json!(d)),
        );
        obj.insert(
            "enabled".into(),
            json!(entry.opt_bool("enabled")?.unwrap_or(true)),
        );
        for key in ["url", "path"] {
            if allowed_keys(c).contains(&key) {
                obj.insert(
                    key.into(),
                    entry.opt_str(key)?.map_or(Value::Null, |v| json!(v)),
                );
            }
        }
        let refs = [
            ("gateway", Collection::Gateways),
            ("mesh", Collection::Meshes),
            ("pipeline", Collection::Pipelines),
            ("endpoint", Collection::Endpoints),
            ("backend", Collection::Backends),
        ];
        for (key, target) in refs {
            if !allowed_keys(c).contains(&key) {
                continue;
            }
            let value = match entry.opt_str(key)? {
                None => Value::Null,
                Some(name) => json!(self.lookup(target, &team_id, name).ok_or_else(|| {
                    SeedError::new(
                        entry.at(key),
                        format!("unknown {} '{name}'", target.singular()),
                    )
                })?),
            };
            obj.insert(format!("{key}_id"), value);
        }
        if allowed_keys(c).contains(&"protocol") {
            let protocol = match entry.opt_str("protocol")? {
                Some(p @ ("http" | "http3")) => p.to_owned(),
                Some(_) => {
                    return Err(SeedError::new(
                        entry.at("protocol"),
                        "expected \"http\" or \"http3\"",
                    ));
                }
                None => self.mesh_protocol(obj.get("mesh_id")),
            };
            obj.insert("protocol".into(), json!(protocol));
        }
        if allowed_keys(c).contains(&"mode") {
            let mode = match entry.opt_str("mode")? {
                Some(m @ ("default" | "mesh")) => m,
                Some(_) => {
                    return Err(SeedError::new(
                        entry.at("mode"),
                        "expected \"default\" or \"mesh\"",
                    ));
                }
                None => "default",
            };
            obj.insert("mode".into(), json!(mode));
        }
        if c == Collection::Ingresses {
            let urls = entry
                .str_array("urls")?
                .ok_or_else(|| SeedError::new(entry.at("urls"), "missing required key"))?;
            if urls.is_empty() {
                return Err(SeedError::new(
                    entry.at("urls"),
                    "an ingress needs at least one URL",
                ));
            }
            for (i, u) in urls.iter().enumerate() {
                if let Err(msg) = crate::model::check_http_url(u) {
                    return Err(SeedError::new(format!("{}[{i}]", entry.at("urls")), msg));
                }
            }
            obj.insert("urls".into(), json!(urls));
        }
        self.resources.entry(c).or_default().push(obj);
        Ok(())
    }

    fn mesh_protocol(&self, mesh_id: Option<&Value>) -> String {
        let Some(mesh_id) = mesh_id.and_then(Value::as_str) else {
            return "http".into();
        };
        self.resources
            .get(&Collection::Meshes)
            .and_then(|l| {
                l.iter()
                    .find(|m| m.get("id").and_then(Value::as_str) == Some(mesh_id))
            })
            .and_then(|m| m.get("protocol").and_then(Value::as_str))
            .unwrap_or("http")
            .to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn example_seed_loads_with_the_scenario() {
        let seed = Seed::example();
        assert_eq!(seed.teams.len(), 2);
        assert_eq!(seed.users.len(), 2);
        let ingress = &seed.resources[&Collection::Ingresses][0];
        assert_eq!(ingress["name"], "dicomweb");
        assert_eq!(ingress["mesh_id"], "01JDWSSSS6YS3C4DWA7N36096Q");
        assert_eq!(ingress["gateway_id"], "01JDWA7Z3DJ8FSSZ5AWSH8VHTP");
        let egress = &seed.resources[&Collection::Egresses][0];
        assert_eq!(egress["mesh_id"], "01JDWSSSS6YS3C4DWA7N36096Q");
        assert_eq!(egress["team_id"], "01JDWS3E28JT97KB6CQ643DZVM");
    }

    #[test]
    fn errors_name_the_toml_path() {
        let base = "[[teams]]\nid = \"T1\"\nslug = \"acme\"\nname = \"Acme\"\n";
        let cases = [
            ("bogus = 1\n", "teams[0].bogus"),
            (
                "[[meshes]]\nid = \"M1\"\nteam = \"nope\"\nname = \"m\"\n",
                "meshes[0].team",
            ),
            (
                "[[ingresses]]\nid = \"I1\"\nteam = \"acme\"\nname = \"i\"\nurls = [\"x\"]\n",
                "ingresses[0].urls[0]",
            ),
            (
                "[[egresses]]\nid = \"E1\"\nteam = \"acme\"\nname = \"e\"\nmesh = \"m\"\n",
                "egresses[0].mesh",
            ),
            (
                "[[services]]\nid = \"T1\"\nteam = \"acme\"\nname = \"s\"\n",
                "services[0].id",
            ),
            (
                "[[services]]\nid = \"S1\"\nteam = \"acme\"\nname = \"s\"\ntypo = 1\n",
                "services[0].typo",
            ),
        ];
        for (extra, path) in cases {
            let err = Seed::from_toml(&format!("{base}{extra}")).unwrap_err();
            assert_eq!(err.path(), path, "{err}");
        }
        assert_eq!(Seed::from_toml("bogus = 1\n").unwrap_err().path(), "bogus");
        let err = Seed::from_toml("[[teams]\n").unwrap_err();
        assert_eq!(err.path(), "");
    }
}
