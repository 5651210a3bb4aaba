//! TOML documents → typed model, collecting every syntax and shape problem with its path.

use std::io::Read;
use std::path::Path;

use toml::{Table, Value};

use super::model::{
    AuthType, Egress, Ingress, ListedReference, Mesh, MeshConfig, Mode, Protocol, Provider,
    problems_error, quoted,
};
use crate::error::{Error, ErrorKind, Problem, Result};
use crate::reference::{LOCAL_PROVIDER, Reference};
use crate::secret::Secret;

/// Largest accepted configuration document, in bytes (4 MiB).
pub const MAX_DOCUMENT_BYTES: usize = 4 << 20;
/// Deepest accepted nesting of arrays and inline tables in a document.
pub const MAX_NESTING_DEPTH: usize = 64;

pub(crate) const DEFAULT_POLL_INTERVAL_SECS: u32 = 30;
pub(crate) const DEFAULT_CACHE_TTL_SECS: u32 = 300;
const MAX_POLL_INTERVAL_SECS: i64 = 3600;

/// One TOML document to load: its text and a name used in messages (usually the file path).
///
/// ```
/// use runbeam_core::config::{ConfigDocument, MeshConfig};
/// let base = ConfigDocument::new("base.toml", "[provider.runbeam]\napi = \"https://api.runbeam.io\"\n");
/// let mesh = ConfigDocument::new("mesh.toml", "[mesh.m]\ntype = \"http\"\nprovider = \"runbeam\"\n");
/// let config = MeshConfig::from_documents(&[base, mesh])?;
/// assert!(config.validate().is_empty());
/// # Ok::<(), runbeam_core::Error>(())
/// ```
#[derive(Debug, Clone, Copy)]
pub struct ConfigDocument<'a> {
    name: &'a str,
    text: &'a str,
}

impl<'a> ConfigDocument<'a> {
    /// A document called `name` with the TOML `text`.
    pub fn new(name: &'a str, text: &'a str) -> Self {
        ConfigDocument { name, text }
    }
}

/// Reads a configuration file, refusing files larger than [`MAX_DOCUMENT_BYTES`].
pub(crate) fn read_file(path: &Path) -> Result<String> {
    let fail = |what: String| {
        Error::new(
            ErrorKind::Config,
            format!(
                "cannot read configuration file '{}': {what}",
                path.display()
            ),
        )
    };
    let file = std::fs::File::open(path).map_err(|e| fail(e.to_string()))?;
    let mut bytes = Vec::new();
    file.take(MAX_DOCUMENT_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| fail(e.to_string()))?;
    if bytes.len() > MAX_DOCUMENT_BYTES {
        return Err(fail(format!(
            "the file is larger than {MAX_DOCUMENT_BYTES} bytes"
        )));
    }
    String::from_utf8(bytes).map_err(|e| {
        fail(format!(
            "the file is not valid UTF-8 (invalid byte at offset {})",
            e.utf8_error().valid_up_to()
        ))
    })
}

/// Parses, merges and walks `documents`.
pub(crate) fn load(documents: &[ConfigDocument<'_>]) -> Result<MeshConfig> {
    let mut problems = Vec::new();
    let mut merged = Table::new();
    for doc in documents {
        if let Some(table) = parse_document(doc, &mut problems) {
            merge(&mut merged, table, "", doc.name, &mut problems);
        }
    }
    if problems.is_empty() {
        let config = walk(&merged, &mut problems);
        if problems.is_empty() {
            return Ok(config);
        }
    }
    let headline = match documents {
        [one] if one.name != "<string>" => format!("cannot load configuration '{}'", one.name),
        _ => "cannot load configuration".to_string(),
    };
    Err(problems_error(ErrorKind::Config, &headline, problems))
}

fn parse_document(doc: &ConfigDocument<'_>, problems: &mut Vec<Problem>) -> Option<Table> {
    let problem = |message: String| Problem::new(ErrorKind::Config, "", message);
    if doc.text.len() > MAX_DOCUMENT_BYTES {
        problems.push(problem(format!(
            "{}: the document is {} bytes long (at most {MAX_DOCUMENT_BYTES})",
            doc.name,
            doc.text.len()
        )));
        return None;
    }
    if let Some(line) = too_deep(doc.text) {
        problems.push(problem(format!(
            "{}: line {line}: arrays and inline tables are nested more than \
             {MAX_NESTING_DEPTH} levels deep",
            doc.name
        )));
        return None;
    }
    match doc.text.parse::<Table>() {
        Ok(table) => Some(table),
        Err(e) => {
            let at = e
                .span()
                .map(|span| {
                    let (line, column) = line_column(doc.text, span.start);
                    format!(" at line {line}, column {column}")
                })
                .unwrap_or_default();
            problems.push(problem(format!(
                "{}: TOML syntax error{at}: {}",
                doc.name,
                e.message().trim_end()
            )));
            None
        }
    }
}

fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text.as_bytes()[..offset.min(text.len())];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    let column = String::from_utf8_lossy(&before[line_start..])
        .chars()
        .count()
        + 1;
    (line, column)
}

/// Returns the line where brackets/braces (outside strings and comments) nest deeper than
/// [`MAX_NESTING_DEPTH`], so that hostile input cannot exhaust the parser's stack.
fn too_deep(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let (mut depth, mut line, mut i) = (0usize, 1usize, 0usize);
    while i < bytes.len() {
        match bytes[i] {
            b'\n' => line += 1,
            b'#' => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            quote @ (b'"' | b'\'') => {
                let triple = bytes[i..].starts_with(if quote == b'"' { b"\"\"\"" } else { b"'''" });
                let width = if triple { 3 } else { 1 };
                i += width;
                while i < bytes.len() {
                    if bytes[i] == b'\n' {
                        line += 1;
                    }
                    if quote == b'"' && bytes[i] == b'\\' {
                        i += 2;
                        continue;
                    }
                    if bytes[i] == quote && (!triple || bytes[i..].starts_with(&[quote; 3])) {
                        break;
                    }
                    i += 1;
                }
                i += width;
                continue;
            }
            b'[' | b'{' => {
                depth += 1;
                if depth > MAX_NESTING_DEPTH {
                    return Some(line);
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    None
}

/// Merges `from` into `into`; a key present in both (other than two tables) is a problem.
fn merge(into: &mut Table, from: Table, path: &str, doc: &str, problems: &mut Vec<Problem>) {
    for (key, value) in from {
        let key_path = join(path, &key);
        match (into.get_mut(&key), value) {
            (Some(Value::Table(existing)), Value::Table(table)) => {
                merge(existing, table, &key_path, doc, problems);
            }
            (Some(_), _) => problems.push(Problem::new(
                ErrorKind::Config,
                key_path,
                format!("defined again in '{doc}' (already defined by an earlier document)"),
            )),
            (None, value) => {
                into.insert(key, value);
            }
        }
    }
}

/// Appends `key` to a dotted TOML path, quoting it when it is not a bare key.
pub(crate) fn join(path: &str, key: &str) -> String {
    let bare = !key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    let key = if bare {
        key.to_string()
    } else {
        format!("\"{}\"", key.escape_default())
    };
    if path.is_empty() {
        key
    } else {
        format!("{path}.{key}")
    }
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::String(_) => "a string",
        Value::Integer(_) => "an integer",
        Value::Float(_) => "a float",
        Value::Boolean(_) => "a boolean",
        Value::Datetime(_) => "a datetime",
        Value::Array(_) => "an array",
        Value::Table(_) => "a table",
    }
}

/// Typed access to one table's keys, reporting unknown keys, wrong types and missing keys.
struct Fields<'t, 'p> {
    table: &'t Table,
    path: String,
    problems: &'p mut Vec<Problem>,
}

impl<'t, 'p> Fields<'t, 'p> {
    fn new(
        table: &'t Table,
        path: String,
        allowed: &[&str],
        problems: &'p mut Vec<Problem>,
    ) -> Self {
        for key in table.keys() {
            if !allowed.contains(&key.as_str()) {
                problems.push(Problem::new(
                    ErrorKind::Config,
                    join(&path, key),
                    format!("unknown key (expected one of: {})", allowed.join(", ")),
                ));
            }
        }
        Fields {
            table,
            path,
            problems,
        }
    }

    fn key_path(&self, key: &str) -> String {
        join(&self.path, key)
    }

    fn wrong_type(&mut self, key: &str, expected: &str, found: &Value) {
        let path = self.key_path(key);
        self.problems.push(Problem::new(
            ErrorKind::Config,
            path,
            format!("expected {expected}, found {}", type_name(found)),
        ));
    }

    fn missing(&mut self, key: &str, what: &str) {
        let path = self.key_path(key);
        self.problems.push(Problem::new(
            ErrorKind::Config,
            path,
            format!("missing required key ({what})"),
        ));
    }

    fn string(&mut self, key: &str) -> Option<String> {
        match self.table.get(key)? {
            Value::String(s) => Some(s.clone()),
            other => {
                self.wrong_type(key, "a string", other);
                None
            }
        }
    }

    fn boolean(&mut self, key: &str, default: bool) -> bool {
        match self.table.get(key) {
            None => default,
            Some(Value::Boolean(b)) => *b,
            Some(other) => {
                self.wrong_type(key, "a boolean", other);
                default
            }
        }
    }

    fn integer(&mut self, key: &str, max: i64, default: u32) -> u32 {
        match self.table.get(key) {
            None => default,
            Some(Value::Integer(n)) if (0..=max).contains(n) => *n as u32,
            Some(Value::Integer(n)) => {
                let path = self.key_path(key);
                self.problems.push(Problem::new(
                    ErrorKind::Config,
                    path,
                    format!("{n} is out of range (expected 0 to {max})"),
                ));
                default
            }
            Some(other) => {
                self.wrong_type(key, "an integer", other);
                default
            }
        }
    }

    /// A string-valued enumeration; `None` when absent or invalid (invalid is reported).
    fn choice<T: Copy>(&mut self, key: &str, choices: &[(&str, T)]) -> Option<T> {
        let text = self.string(key)?;
        if let Some((_, value)) = choices.iter().find(|(name, _)| *name == text) {
            return Some(*value);
        }
        let names: Vec<_> = choices.iter().map(|(n, _)| format!("\"{n}\"")).collect();
        let path = self.key_path(key);
        self.problems.push(Problem::new(
            ErrorKind::Config,
            path,
            format!(
                "'{}' is not allowed (expected {})",
                quoted(&text),
                names.join(" or ")
            ),
        ));
        None
    }

    /// An array of strings, with the path of each element.
    fn strings(&mut self, key: &str) -> Option<Vec<(String, String)>> {
        let value = self.table.get(key)?;
        let Value::Array(items) = value else {
            self.wrong_type(key, "an array of strings", value);
            return None;
        };
        let base = self.key_path(key);
        let mut out = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let path = format!("{base}[{i}]");
            match item {
                Value::String(s) => out.push((s.clone(), path)),
                other => self.problems.push(Problem::new(
                    ErrorKind::Config,
                    path,
                    format!("expected a string, found {}", type_name(other)),
                )),
            }
        }
        Some(out)
    }
}

/// The entries of `parent[key]`, which must be a table of tables.
fn tables<'t>(
    parent: &'t Table,
    path: &str,
    key: &str,
    problems: &mut Vec<Problem>,
) -> Vec<(String, &'t Table)> {
    let Some(value) = parent.get(key) else {
        return Vec::new();
    };
    let table_path = join(path, key);
    let Value::Table(table) = value else {
        problems.push(Problem::new(
            ErrorKind::Config,
            table_path,
            format!("expected a table, found {}", type_name(value)),
        ));
        return Vec::new();
    };
    let mut out = Vec::with_capacity(table.len());
    for (name, entry) in table {
        match entry {
            Value::Table(t) => out.push((name.clone(), t)),
            other => problems.push(Problem::new(
                ErrorKind::Config,
                join(&table_path, name),
                format!("expected a table, found {}", type_name(other)),
            )),
        }
    }
    out
}

const PROTOCOLS: [(&str, Protocol); 2] = [("http", Protocol::Http), ("http3", Protocol::Http3)];
const MODES: [(&str, Mode); 2] = [("default", Mode::Default), ("mesh", Mode::Mesh)];

fn walk(root: &Table, problems: &mut Vec<Problem>) -> MeshConfig {
    let mut providers: Vec<Provider> = tables(root, "", "provider", problems)
        .into_iter()
        .map(|(name, t)| provider(name, t, problems))
        .collect();
    if !providers.iter().any(|p| p.name == LOCAL_PROVIDER) {
        providers.push(Provider::implicit_local());
    }
    let meshes = tables(root, "", "mesh", problems)
        .into_iter()
        .filter_map(|(name, t)| mesh(name, t, problems))
        .collect();
    let (mut ingresses, mut egresses) = (Vec::new(), Vec::new());
    for (pipeline, table) in tables(root, "", "pipelines", problems) {
        let path = join("pipelines", &pipeline);
        if let Some(mesh_table) = table_named(table, &path, "mesh", problems) {
            let mesh_path = join(&path, "mesh");
            Fields::new(
                mesh_table,
                mesh_path.clone(),
                &["ingress", "egress"],
                problems,
            );
            for (name, t) in tables(mesh_table, &mesh_path, "ingress", problems) {
                ingresses.push(ingress(&pipeline, name, t, &mesh_path, problems));
            }
            for (name, t) in tables(mesh_table, &mesh_path, "egress", problems) {
                egresses.push(egress(&pipeline, name, t, &mesh_path, problems));
            }
        }
    }
    remote_ingress(root, problems);
    MeshConfig {
        providers,
        meshes,
        ingresses,
        egresses,
    }
}

/// `[remote_ingress.<name>]` is refused (docs/spec.md §2.1, docs/design.md): a remote ingress
/// is reached through its provider, which answers for it (enabled, mesh membership, current
/// URLs), and a name alone does not say which team's ingress is meant. One problem per table,
/// saying what to write instead.
fn remote_ingress(root: &Table, problems: &mut Vec<Problem>) {
    for (name, _) in tables(root, "", "remote_ingress", problems) {
        problems.push(Problem::new(
            ErrorKind::Config,
            join("remote_ingress", &name),
            format!(
                "[remote_ingress.<name>] is not supported: list the remote ingress as a \
                 reference in a mesh instead, e.g. egress = [\"<provider>.<team>.ingress.name.{}\"] \
                 in a [mesh.<name>] of that provider, and the resolver asks the provider for its \
                 URLs; for a service outside every provider, define a pipeline egress whose \
                 backend points at its URLs",
                quoted(&name)
            ),
        ));
    }
}

/// `parent[key]` as a single table (e.g. `pipelines.<p>.mesh`), if present.
fn table_named<'t>(
    parent: &'t Table,
    path: &str,
    key: &str,
    problems: &mut Vec<Problem>,
) -> Option<&'t Table> {
    match parent.get(key)? {
        Value::Table(t) => Some(t),
        other => {
            problems.push(Problem::new(
                ErrorKind::Config,
                join(path, key),
                format!("expected a table, found {}", type_name(other)),
            ));
            None
        }
    }
}

fn provider(name: String, table: &Table, problems: &mut Vec<Problem>) -> Provider {
    let path = join("provider", &name);
    let mut f = Fields::new(
        table,
        path.clone(),
        &["api", "poll_interval_secs", "cache_ttl_secs", "enabled"],
        problems,
    );
    Provider {
        api: f.string("api"),
        poll_interval_secs: f.integer(
            "poll_interval_secs",
            MAX_POLL_INTERVAL_SECS,
            DEFAULT_POLL_INTERVAL_SECS,
        ),
        cache_ttl_secs: f.integer("cache_ttl_secs", u32::MAX as i64, DEFAULT_CACHE_TTL_SECS),
        enabled: f.boolean("enabled", true),
        name,
        path,
    }
}

fn listed(f: &mut Fields<'_, '_>, key: &str) -> Vec<ListedReference> {
    f.strings(key)
        .unwrap_or_default()
        .into_iter()
        .map(|(text, path)| ListedReference {
            reference: Reference::parse(&text).ok(),
            text,
            path,
        })
        .collect()
}

fn mesh(name: String, table: &Table, problems: &mut Vec<Problem>) -> Option<Mesh> {
    let path = join("mesh", &name);
    let mut f = Fields::new(
        table,
        path.clone(),
        &[
            "type",
            "provider",
            "id",
            "auth_type",
            "jwks_url",
            "jwt_secret",
            "jwt_private_key_path",
            "jwt_public_key_path",
            "ingress",
            "egress",
            "enabled",
            "description",
        ],
        problems,
    );
    let protocol = f.choice("type", &PROTOCOLS);
    if protocol.is_none() && !table.contains_key("type") {
        f.missing("type", "\"http\" or \"http3\"");
    }
    let provider = f.string("provider");
    if provider.is_none() && !table.contains_key("provider") {
        f.missing("provider", "the name of a configured [provider.<name>]");
    }
    let auth_type = if table.contains_key("auth_type") {
        f.choice("auth_type", &[("jwt", AuthType::Jwt)])
    } else {
        Some(AuthType::Jwt)
    };
    let mesh = Mesh {
        id: f.string("id"),
        jwks_url: f.string("jwks_url"),
        jwt_secret: f.string("jwt_secret").map(Secret::new),
        jwt_private_key_path: f.string("jwt_private_key_path"),
        jwt_public_key_path: f.string("jwt_public_key_path"),
        ingress: listed(&mut f, "ingress"),
        egress: listed(&mut f, "egress"),
        enabled: f.boolean("enabled", true),
        description: f.string("description"),
        protocol: protocol?,
        provider: provider?,
        auth_type: auth_type?,
        name,
        path,
    };
    Some(mesh)
}

fn required_urls(f: &mut Fields<'_, '_>) -> Vec<String> {
    match f.strings("urls") {
        Some(urls) if !urls.is_empty() => urls.into_iter().map(|(u, _)| u).collect(),
        Some(_) => {
            let path = f.key_path("urls");
            f.problems.push(Problem::new(
                ErrorKind::Config,
                path,
                "must list at least one URL",
            ));
            Vec::new()
        }
        None => {
            if !f.table.contains_key("urls") {
                f.missing("urls", "an array of at least one URL");
            }
            Vec::new()
        }
    }
}

fn ingress(
    pipeline: &str,
    name: String,
    table: &Table,
    mesh_path: &str,
    problems: &mut Vec<Problem>,
) -> Ingress {
    let path = join(&join(mesh_path, "ingress"), &name);
    let mut f = Fields::new(
        table,
        path.clone(),
        &["type", "urls", "endpoint", "mode", "enabled", "description"],
        problems,
    );
    Ingress {
        protocol: f.choice("type", &PROTOCOLS).unwrap_or(Protocol::Http),
        urls: required_urls(&mut f),
        endpoint: f.string("endpoint"),
        mode: f.choice("mode", &MODES).unwrap_or(Mode::Default),
        enabled: f.boolean("enabled", true),
        description: f.string("description"),
        pipeline: pipeline.to_string(),
        name,
        path,
    }
}

fn egress(
    pipeline: &str,
    name: String,
    table: &Table,
    mesh_path: &str,
    problems: &mut Vec<Problem>,
) -> Egress {
    let path = join(&join(mesh_path, "egress"), &name);
    let mut f = Fields::new(
        table,
        path.clone(),
        &["type", "backend", "mode", "enabled", "description"],
        problems,
    );
    Egress {
        protocol: f.choice("type", &PROTOCOLS).unwrap_or(Protocol::Http),
        backend: f.string("backend"),
        mode: f.choice("mode", &MODES).unwrap_or(Mode::Default),
        enabled: f.boolean("enabled", true),
        description: f.string("description"),
        pipeline: pipeline.to_string(),
        name,
        path,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load_err(text: &str) -> Error {
        MeshConfig::from_toml(text).unwrap_err()
    }

    #[test]
    fn unknown_keys_and_wrong_types_are_all_reported_with_paths() {
        let err = load_err(
            r#"
            [provider.runbeam]
            api = "https://api.runbeam.io"
            poll_interval_secs = 7200
            [mesh.m]
            type = "http2"
            provider = 3
            enabeld = false
            egress = ["a", 1]
            [pipelines.p.mesh.ingress.i]
            urls = []
            color = "red"
            "#,
        );
        assert_eq!(err.kind(), ErrorKind::Config);
        let paths: Vec<_> = err.problems().iter().map(|p| p.path()).collect();
        assert_eq!(
            paths,
            [
                "provider.runbeam.poll_interval_secs",
                "mesh.m.enabeld",
                "mesh.m.type",
                "mesh.m.provider",
                "mesh.m.egress[1]",
                "pipelines.p.mesh.ingress.i.color",
                "pipelines.p.mesh.ingress.i.urls",
            ]
        );
        assert!(err.to_string().contains("mesh.m.enabeld: unknown key"));
        assert!(
            err.to_string()
                .contains("7200 is out of range (expected 0 to 3600)")
        );
    }

    #[test]
    fn missing_required_keys() {
        let err = load_err("[mesh.m]\n");
        let messages: Vec<_> = err.problems().iter().map(|p| p.to_string()).collect();
        assert_eq!(messages.len(), 2);
        assert!(messages[0].starts_with("mesh.m.type: missing required key"));
        assert!(messages[1].starts_with("mesh.m.provider: missing required key"));
    }

    #[test]
    fn remote_ingress_tables_are_refused_with_what_to_write_instead() {
        let err = load_err(
            r#"
            [provider.runbeam]
            api = "https://api.runbeam.io"
            [remote_ingress.their-api]
            urls = ["https://api.partner.example.com"]
            [remote_ingress.other]
            "#,
        );
        let paths: Vec<_> = err.problems().iter().map(|p| p.path()).collect();
        assert_eq!(paths, ["remote_ingress.their-api", "remote_ingress.other"]);
        let text = err.to_string();
        assert!(
            text.contains("egress = [\"<provider>.<team>.ingress.name.their-api\"]"),
            "{text}"
        );
        assert!(text.contains("pipeline egress whose backend"), "{text}");
    }

    #[test]
    fn syntax_errors_have_line_and_column() {
        let err = load_err("[mesh.m]\ntype = \"http\"\nprovider = \n");
        assert!(err.to_string().contains("line 3"), "{err}");
    }

    #[test]
    fn other_gateway_tables_are_ignored() {
        let config = MeshConfig::from_toml(
            r#"
            [proxy]
            id = "gw"
            [network.default]
            http = { bind_address = "0.0.0.0" }
            [pipelines.p]
            description = "x"
            [pipelines.p.endpoints.e]
            service = "http"
            "#,
        )
        .unwrap();
        assert!(config.meshes().is_empty());
    }

    #[test]
    fn deep_nesting_is_refused_not_overflowed() {
        let text = format!("a = {}{}", "[".repeat(100_000), "]".repeat(100_000));
        let err = load_err(&text);
        assert!(err.to_string().contains("nested more than 64"), "{err}");
        // Brackets inside strings and comments do not count.
        let ok = format!("a = \"{}\" # {}\n", "[".repeat(1000), "{".repeat(1000));
        assert!(MeshConfig::from_toml(&ok).is_ok());
    }

    #[test]
    fn documents_merge_and_conflicts_name_the_document() {
        let a = ConfigDocument::new(
            "a.toml",
            "[mesh.m]\ntype = \"http\"\nprovider = \"local\"\n",
        );
        let b = ConfigDocument::new(
            "b.toml",
            "[mesh.n]\ntype = \"http\"\nprovider = \"local\"\n",
        );
        let config = MeshConfig::from_documents(&[a, b]).unwrap();
        assert_eq!(config.meshes().len(), 2);
        let c = ConfigDocument::new("c.toml", "[mesh.m]\ntype = \"http3\"\n");
        let err = MeshConfig::from_documents(&[a, c]).unwrap_err();
        assert_eq!(err.problems()[0].path(), "mesh.m.type");
        assert!(err.problems()[0].message().contains("'c.toml'"));
    }

    #[test]
    fn quoted_keys_in_paths() {
        let err = load_err("[mesh.\"my mesh\"]\ntype = 1\nprovider = \"local\"\n");
        assert_eq!(err.problems()[0].path(), "mesh.\"my mesh\".type");
    }
}
