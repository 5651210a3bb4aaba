//! The input rules of the contract, written for the devcloud from the contract text alone.
//!
//! The devcloud is the test double every end-to-end test runs against, so it must not check
//! untrusted input with `runbeam-core`'s own functions: a bug there would be mirrored here
//! and no end-to-end test could catch it. Everything below is a plain, literal reading of
//! `docs/spec.md` (§1.1 for references, ids and names; §3.3 and §4 for mesh-token
//! destinations), kept deliberately simple rather than fast.

use url::Url;

use crate::model::Collection;

/// Longest provider, team, name or id segment, in characters (`docs/spec.md §1.1`).
const MAX_SEGMENT_CHARS: usize = 128;
/// Longest whole reference, in bytes (`docs/spec.md §1.1`).
const MAX_REFERENCE_BYTES: usize = 512;
/// The provider of resources defined in a gateway's own configuration (`docs/spec.md §1.1`).
const LOCAL: &str = "local";
/// The full form a name lookup needs outside `local` (`docs/spec.md §1.1`).
const FULL_NAME_FORM: &str = "<provider>.<team>.<type>.name.<name>";

/// Whether `text` is a valid `<provider>`, `<team>` or `<name>`: 1–128 characters of
/// `[a-z0-9_-]`, starting with `[a-z0-9]` (`docs/spec.md §1.1`).
pub(crate) fn is_name(text: &str) -> bool {
    let allowed = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-';
    let starts_well = text
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    starts_well && text.chars().count() <= MAX_SEGMENT_CHARS && text.chars().all(allowed)
}

/// Whether `text` is a valid `<id>`: 1–128 characters of `[A-Za-z0-9_-]`, mixed case
/// allowed (`docs/spec.md §1.1`).
pub(crate) fn is_id(text: &str) -> bool {
    let allowed = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
    !text.is_empty() && text.chars().count() <= MAX_SEGMENT_CHARS && text.chars().all(allowed)
}

/// How a reference finds its resource (`docs/spec.md §1.1`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lookup {
    /// `….id.<id>`.
    Id,
    /// `….name.<name>`.
    Name,
}

impl Lookup {
    /// The field of a stored resource the lookup compares: `id` or `name`.
    pub(crate) const fn field(self) -> &'static str {
        match self {
            Lookup::Id => "id",
            Lookup::Name => "name",
        }
    }
}

/// A reference accepted by [`parse_reference`]; its parts borrow the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Reference<'a> {
    /// The provider; `local` for the two local forms.
    pub(crate) provider: &'a str,
    /// The team, in the team-scoped and full forms.
    pub(crate) team: Option<&'a str>,
    /// The collection of the `<type>`, in the full forms.
    pub(crate) collection: Option<Collection>,
    /// By id or by name.
    pub(crate) lookup: Lookup,
    /// The id or name looked up.
    pub(crate) value: &'a str,
}

/// Parses `text` by the grammar of `docs/spec.md §1.1`: segments separated by `.`, in one of
/// exactly six forms. A rejection says which 0-based segment is wrong and what was expected
/// (`docs/spec.md §1.2`).
pub(crate) fn parse_reference(text: &str) -> Result<Reference<'_>, String> {
    if text.is_empty() {
        return Err(invalid(text, "the reference is empty"));
    }
    if text.len() > MAX_REFERENCE_BYTES {
        return Err(invalid(
            text,
            format_args!(
                "the reference is {} bytes long (at most {MAX_REFERENCE_BYTES})",
                text.len()
            ),
        ));
    }
    let segments: Vec<&str> = text.split('.').collect();
    let segment = |index: usize| segments.get(index).copied().unwrap_or_default();
    // A segment-level problem, in the message shape of docs/spec.md §1.2.
    let bad = |index: usize, what: &str| {
        invalid(
            text,
            format_args!("segment {index} '{}' {what}", shown(segment(index))),
        )
    };
    // Checks segment `index` against the name rule, or the id rule when `id`.
    let check = |index: usize, noun: &str, id: bool| -> Result<(), String> {
        let value = segment(index);
        if value.is_empty() {
            return Err(invalid(
                text,
                format_args!("segment {index} is empty (expected {noun})"),
            ));
        }
        let (valid, rule) = if id {
            (
                is_id(value),
                "1-128 characters of A-Z, a-z, 0-9, '_' and '-'",
            )
        } else {
            (
                is_name(value),
                "1-128 characters of a-z, 0-9, '_' and '-', starting with a letter or digit",
            )
        };
        if valid {
            Ok(())
        } else {
            Err(bad(index, &format!("is not {noun} (expected {rule})")))
        }
    };
    // The lookup keyword at `index`: exactly `id` or `name`, lowercase only.
    let keyword = |index: usize| -> Result<Lookup, String> {
        match segment(index) {
            "id" => Ok(Lookup::Id),
            "name" => Ok(Lookup::Name),
            other if other.eq_ignore_ascii_case("id") || other.eq_ignore_ascii_case("name") => {
                Err(bad(
                    index,
                    "is not a keyword: keywords are lowercase (expected 'id' or 'name')",
                ))
            }
            _ => Err(bad(
                index,
                "is not a lookup keyword (expected 'id' or 'name')",
            )),
        }
    };
    let check_value = |index: usize, lookup: Lookup| match lookup {
        Lookup::Id => check(index, "an id", true),
        Lookup::Name => check(index, "a name", false),
    };
    let local_with_team = || {
        bad(
            0,
            "cannot have a team or type: local resources have names only",
        )
    };

    match *segments.as_slice() {
        // `<name>`
        [name] => {
            check(0, "a name", false)?;
            Ok(Reference {
                provider: LOCAL,
                team: None,
                collection: None,
                lookup: Lookup::Name,
                value: name,
            })
        }
        // `local.name.<name>` or `<provider>.id.<id>`
        [provider, _, value] => {
            let lookup = keyword(1)?;
            if provider == LOCAL {
                if lookup == Lookup::Id {
                    return Err(bad(
                        1,
                        "is not allowed here: local resources have names only (use local.name.<name> or <name>)",
                    ));
                }
            } else {
                check(0, "a provider", false)?;
                if lookup == Lookup::Name {
                    return Err(bad(
                        1,
                        &format!(
                            "is not allowed here: names are unique only inside a team (use {FULL_NAME_FORM})"
                        ),
                    ));
                }
            }
            check_value(2, lookup)?;
            Ok(Reference {
                provider,
                team: None,
                collection: None,
                lookup,
                value,
            })
        }
        // `<provider>.<team>.id.<id>`
        [provider, team, _, value] => {
            if provider == LOCAL {
                return Err(local_with_team());
            }
            check(0, "a provider", false)?;
            check(1, "a team", false)?;
            if keyword(2)? == Lookup::Name {
                return Err(bad(
                    2,
                    &format!(
                        "is not allowed here: a name needs its resource type (use {FULL_NAME_FORM})"
                    ),
                ));
            }
            check(3, "an id", true)?;
            Ok(Reference {
                provider,
                team: Some(team),
                collection: None,
                lookup: Lookup::Id,
                value,
            })
        }
        // `<provider>.<team>.<type>.name.<name>` or `<provider>.<team>.<type>.id.<id>`
        [provider, team, kind, _, value] => {
            if provider == LOCAL {
                return Err(local_with_team());
            }
            check(0, "a provider", false)?;
            check(1, "a team", false)?;
            let Some(collection) = Collection::of_type_name(kind) else {
                return Err(bad(
                    2,
                    "is not a resource type (expected one of ingress, egress, pipeline, endpoint, backend, mesh)",
                ));
            };
            let lookup = keyword(3)?;
            check_value(4, lookup)?;
            Ok(Reference {
                provider,
                team: Some(team),
                collection: Some(collection),
                lookup,
                value,
            })
        }
        _ => Err(invalid(
            text,
            format_args!(
                "it has {} segments (expected <name>, local.name.<name>, <provider>.id.<id>, \
                 <provider>.<team>.id.<id> or <provider>.<team>.<type>.name|id.<value>)",
                segments.len()
            ),
        )),
    }
}

/// The message of a rejected reference: it names the reference (`docs/spec.md §1.2`).
fn invalid(text: &str, what: impl std::fmt::Display) -> String {
    format!("invalid reference '{}': {what}", shown(text))
}

/// At most 80 characters of untrusted `text`, control and non-ASCII characters escaped, for
/// an error message.
fn shown(text: &str) -> String {
    let mut out: String = text
        .chars()
        .take(80)
        .flat_map(char::escape_default)
        .collect();
    if text.chars().nth(80).is_some() {
        out.push('…');
    }
    out
}

/// Whether the destination URL `dest` lies under the ingress URL `base`: same scheme, host
/// and port, and the path of `base` is a prefix of the path of `dest` (`docs/spec.md §3.3`
/// "prefix match on scheme, host, port, path"; `§4` "`dest_url` prefix"). The path prefix is
/// taken on whole segments (`/wado` covers `/wado` and `/wado/studies`, not `/wadox`), and
/// default ports are explicit (`https://h` and `https://h:443` are the same origin).
pub(crate) fn url_under(base: &Url, dest: &Url) -> bool {
    let same_host = match (base.host_str(), dest.host_str()) {
        (Some(b), Some(d)) => b.eq_ignore_ascii_case(d),
        _ => false,
    };
    if base.scheme() != dest.scheme()
        || !same_host
        || base.port_or_known_default() != dest.port_or_known_default()
    {
        return false;
    }
    let mut base_segments: Vec<&str> = base.path().split('/').skip(1).collect();
    // A trailing slash on the base names the same directory: `/wado/` is `/wado`.
    while base_segments.last() == Some(&"") {
        base_segments.pop();
    }
    let dest_segments: Vec<&str> = dest.path().split('/').skip(1).collect();
    dest_segments.starts_with(&base_segments)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_ids_follow_the_character_rules() {
        let long = "a".repeat(128);
        for ok in ["a", "0", "fhir-api", "a_b", "9-x", long.as_str()] {
            assert!(is_name(ok), "{ok}");
        }
        let too_long = "a".repeat(129);
        for bad in ["", "-a", "_a", "Fhir", "a.b", "a b", "é", too_long.as_str()] {
            assert!(!is_name(bad), "{bad}");
        }
        for ok in ["01JDW14DR9GPQY77ZXYYK596NG", "a", "A-b_9", long.as_str()] {
            assert!(is_id(ok), "{ok}");
        }
        for bad in ["", "a.b", "a b", "a+b", "é", too_long.as_str()] {
            assert!(!is_id(bad), "{bad}");
        }
    }

    #[test]
    fn the_six_forms_parse() {
        let r = parse_reference("dicomweb").unwrap();
        assert_eq!(
            (r.provider, r.lookup, r.value),
            ("local", Lookup::Name, "dicomweb")
        );
        let r = parse_reference("local.name.dicomweb").unwrap();
        assert_eq!((r.provider, r.team, r.value), ("local", None, "dicomweb"));
        let r = parse_reference("runbeam.id.01ABC").unwrap();
        assert_eq!(
            (r.provider, r.team, r.lookup),
            ("runbeam", None, Lookup::Id)
        );
        let r = parse_reference("runbeam.acme.id.01ABC").unwrap();
        assert_eq!((r.team, r.collection), (Some("acme"), None));
        let r = parse_reference("runbeam.acme.INGRESS.name.api").unwrap();
        assert_eq!(
            (r.collection, r.lookup, r.value),
            (Some(Collection::Ingresses), Lookup::Name, "api")
        );
        let r = parse_reference("runbeam.acme.mesh.id.01ABC").unwrap();
        assert_eq!(
            (r.collection, r.lookup),
            (Some(Collection::Meshes), Lookup::Id)
        );
    }

    #[test]
    fn rejections_name_the_segment() {
        for (text, segment) in [
            ("runbeam.acme.widget.name.api", "segment 2"),
            ("runbeam.name.api", "segment 1"),
            ("local.id.x", "segment 1"),
            ("local.acme.id.x", "segment 0"),
            ("local.acme.ingress.name.x", "segment 0"),
            ("runbeam.acme.name.x", "segment 2"),
            ("runbeam.acme.ingress.NAME.x", "segment 3"),
            ("runbeam.Acme.id.x", "segment 1"),
            ("runbeam..id.x", "segment 1"),
            ("runbeam.acme.ingress.name.Api", "segment 4"),
            ("runbeam.acme.ingress.id.a+b", "segment 4"),
        ] {
            let err = parse_reference(text).unwrap_err();
            assert!(err.contains(segment), "{text}: {err}");
        }
        for text in ["", "a.b", "a.b.c.d.e.f", "x ", &"a".repeat(513)] {
            assert!(parse_reference(text).is_err(), "{text}");
        }
    }

    #[test]
    fn prefix_match_is_on_segments() {
        let url = |u: &str| Url::parse(u).unwrap();
        let base = url("https://dicom.example.com/wado");
        let ok = |d: &str| url_under(&base, &url(d));
        assert!(ok("https://dicom.example.com/wado"));
        assert!(ok("https://dicom.example.com/wado/studies"));
        assert!(ok("https://DICOM.example.com:443/wado/"));
        assert!(!ok("https://dicom.example.com/wadox"));
        assert!(!ok("https://dicom.example.com/"));
        assert!(!ok("http://dicom.example.com/wado"));
        assert!(!ok("https://dicom.example.com:8443/wado"));
        assert!(!ok("https://dicom.example.com.evil.test/wado"));
        let slash = url("https://dicom.example.com/wado/");
        assert!(url_under(&slash, &url("https://dicom.example.com/wado/1")));
        assert!(!url_under(&slash, &url("https://dicom.example.com/wadox")));
        let root = url("https://dicom.example.com");
        assert!(url_under(
            &root,
            &url("https://dicom.example.com/studies/1")
        ));
    }
}
