//! Resource references (docs/spec.md §1): `runbeam.acme-healthcare.ingress.name.fhir-api` and friends.
//!
//! A [`Reference`] is parsed once, strictly, and stored in its canonical text form (the shortest
//! equivalent spelling, types in lowercase) with the positions of its parts, so that accessors,
//! `Display`, equality and hashing cost nothing and a parse allocates exactly once.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::str::FromStr;

use crate::error::{Error, ErrorKind, Result, quote_input};

/// Longest accepted reference, in bytes.
pub const MAX_REFERENCE_LEN: usize = 512;
/// Longest accepted provider, team, name or id segment, in bytes.
pub const MAX_SEGMENT_LEN: usize = 128;
/// The provider of resources defined in the gateway's own configuration.
pub const LOCAL_PROVIDER: &str = "local";

/// The kind of resource a full reference names. Parsed case-insensitively, written lowercase.
///
/// ```
/// use runbeam_core::ResourceType;
/// assert_eq!("Ingress".parse::<ResourceType>().unwrap(), ResourceType::Ingress);
/// assert_eq!(ResourceType::Egress.to_string(), "egress");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ResourceType {
    /// A mesh ingress: where a team accepts mesh traffic.
    Ingress,
    /// A mesh egress: where a team sends mesh traffic.
    Egress,
    /// A gateway pipeline.
    Pipeline,
    /// A pipeline endpoint.
    Endpoint,
    /// A pipeline backend.
    Backend,
    /// A mesh.
    Mesh,
}

impl ResourceType {
    /// Every resource type, in the order used in messages.
    pub const ALL: [ResourceType; 6] = [
        ResourceType::Ingress,
        ResourceType::Egress,
        ResourceType::Pipeline,
        ResourceType::Endpoint,
        ResourceType::Backend,
        ResourceType::Mesh,
    ];

    /// The canonical (lowercase) spelling.
    #[inline]
    pub const fn as_str(self) -> &'static str {
        match self {
            ResourceType::Ingress => "ingress",
            ResourceType::Egress => "egress",
            ResourceType::Pipeline => "pipeline",
            ResourceType::Endpoint => "endpoint",
            ResourceType::Backend => "backend",
            ResourceType::Mesh => "mesh",
        }
    }

    /// Case-insensitive lookup of a type name; `None` if it is not a resource type.
    #[inline]
    pub fn from_name(text: &str) -> Option<ResourceType> {
        // Dispatch on length first: this runs on every full-reference parse.
        let candidates: &[ResourceType] = match text.len() {
            4 => &[ResourceType::Mesh],
            6 => &[ResourceType::Egress],
            7 => &[ResourceType::Ingress, ResourceType::Backend],
            8 => &[ResourceType::Pipeline, ResourceType::Endpoint],
            _ => &[],
        };
        candidates
            .iter()
            .copied()
            .find(|t| t.as_str().eq_ignore_ascii_case(text))
    }
}

impl fmt::Display for ResourceType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ResourceType {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self> {
        ResourceType::from_name(text).ok_or_else(|| {
            Error::new(
                ErrorKind::InvalidArgument,
                format!(
                    "'{}' is not a resource type (expected one of {TYPE_LIST})",
                    quote_input(text, 64)
                ),
            )
        })
    }
}

/// How a reference finds its resource: by opaque id or by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Lookup {
    /// By id (`….id.<id>`); ids are unique within a provider.
    Id,
    /// By name (`….name.<name>`); names are unique within a team and type.
    Name,
}

impl Lookup {
    /// The keyword as written in a reference: `"id"` or `"name"`.
    #[inline]
    pub const fn as_str(self) -> &'static str {
        match self {
            Lookup::Id => "id",
            Lookup::Name => "name",
        }
    }
}

impl fmt::Display for Lookup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Byte range of a part inside the canonical text (references are at most 512 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Span {
    start: u16,
    end: u16,
}

impl Span {
    #[inline]
    fn of(text: &str, part: &str) -> Span {
        // `part` is a sub-slice of `text`: its offset is the pointer difference.
        let start = part.as_ptr() as usize - text.as_ptr() as usize;
        Span {
            start: start as u16,
            end: (start + part.len()) as u16,
        }
    }

    #[inline]
    fn get(self, text: &str) -> &str {
        text.get(self.start as usize..self.end as usize)
            .unwrap_or_default()
    }
}

/// A parsed, validated resource reference.
///
/// Six forms are accepted (docs/spec.md §1.1):
///
/// | form | example |
/// |---|---|
/// | `<name>` | `fhir-api` |
/// | `local.name.<name>` | `local.name.fhir-api` |
/// | `<provider>.id.<id>` | `runbeam.id.01J9Z3` |
/// | `<provider>.<team>.id.<id>` | `runbeam.acme.id.01J9Z3` |
/// | `<provider>.<team>.<type>.name.<name>` | `runbeam.acme.ingress.name.fhir-api` |
/// | `<provider>.<team>.<type>.id.<id>` | `runbeam.acme.ingress.id.01J9Z3` |
///
/// Equality, ordering and hashing compare the canonical form, so `local.name.x == x` and
/// `runbeam.a.INGRESS.id.1 == runbeam.a.ingress.id.1`.
///
/// ```
/// use runbeam_core::{Lookup, Reference, ResourceType};
///
/// let r: Reference = "runbeam.acme-healthcare.Ingress.name.fhir-api".parse()?;
/// assert_eq!(r.provider(), "runbeam");
/// assert_eq!(r.team(), Some("acme-healthcare"));
/// assert_eq!(r.resource_type(), Some(ResourceType::Ingress));
/// assert_eq!(r.lookup(), Lookup::Name);
/// assert_eq!(r.value(), "fhir-api");
/// assert_eq!(r.to_string(), "runbeam.acme-healthcare.ingress.name.fhir-api");
///
/// let local = Reference::parse("local.name.my-ingress")?;
/// assert!(local.is_local());
/// assert_eq!(local.to_string(), "my-ingress");
/// # Ok::<(), runbeam_core::Error>(())
/// ```
#[derive(Clone)]
pub struct Reference {
    text: Box<str>,
    provider: Option<Span>,
    team: Option<Span>,
    resource_type: Option<ResourceType>,
    lookup: Lookup,
    value: Span,
}

impl Reference {
    /// Parses `text` strictly; see the type documentation for the accepted forms.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidReference`] naming the reference, the 0-based segment index and
    /// what was expected there.
    #[inline]
    pub fn parse(text: &str) -> Result<Reference> {
        crate::panic::fault_point("reference");
        parse(text)
    }

    /// The provider: `"local"` for local references.
    #[inline]
    pub fn provider(&self) -> &str {
        self.provider.map_or(LOCAL_PROVIDER, |s| s.get(&self.text))
    }

    /// The team, for team-scoped and full references.
    #[inline]
    pub fn team(&self) -> Option<&str> {
        self.team.map(|s| s.get(&self.text))
    }

    /// The resource type, for full references.
    #[inline]
    pub fn resource_type(&self) -> Option<ResourceType> {
        self.resource_type
    }

    /// Whether the resource is found by id or by name.
    #[inline]
    pub fn lookup(&self) -> Lookup {
        self.lookup
    }

    /// The id or name.
    #[inline]
    pub fn value(&self) -> &str {
        self.value.get(&self.text)
    }

    /// Whether this names a resource of the gateway's own configuration.
    #[inline]
    pub fn is_local(&self) -> bool {
        self.provider.is_none()
    }

    /// The canonical form (also what `Display` writes).
    #[inline]
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl fmt::Debug for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Reference({:?})", &*self.text)
    }
}

impl FromStr for Reference {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self> {
        parse(text)
    }
}

impl PartialEq for Reference {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

impl Eq for Reference {}

impl Hash for Reference {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.text.hash(state);
    }
}

impl PartialOrd for Reference {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Reference {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.text.cmp(&other.text)
    }
}

impl AsRef<str> for Reference {
    fn as_ref(&self) -> &str {
        &self.text
    }
}

// ---------------------------------------------------------------------------------------------
// Parsing

const TYPE_LIST: &str = "ingress, egress, pipeline, endpoint, backend, mesh";
const FULL_NAME_FORM: &str = "<provider>.<team>.<type>.name.<name>";

/// Character classes, one table lookup per byte.
const NAME_FIRST: u8 = 1; // [a-z0-9]
const NAME_REST: u8 = 2; // [a-z0-9_-]
const ID_CHAR: u8 = 4; // [A-Za-z0-9_-]

const CLASSES: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut c = 0;
    while c < 256 {
        let b = c as u8;
        let lower_or_digit = b.is_ascii_lowercase() || b.is_ascii_digit();
        if lower_or_digit {
            t[c] = NAME_FIRST | NAME_REST | ID_CHAR;
        } else if b == b'-' || b == b'_' {
            t[c] = NAME_REST | ID_CHAR;
        } else if b.is_ascii_uppercase() {
            t[c] = ID_CHAR;
        }
        c += 1;
    }
    t
};

/// What a segment must be, for validation and messages.
#[derive(Clone, Copy)]
enum Part {
    Provider,
    Team,
    Name,
    Id,
}

impl Part {
    fn noun(self) -> &'static str {
        match self {
            Part::Provider => "a provider",
            Part::Team => "a team",
            Part::Name => "a name",
            Part::Id => "an id",
        }
    }

    fn rule(self) -> &'static str {
        match self {
            Part::Id => "1-128 characters of A-Z, a-z, 0-9, '-' and '_'",
            _ => "1-128 characters of a-z, 0-9, '-' and '_', starting with a letter or digit",
        }
    }
}

/// Builds the error for `input` with the detail `what`.
#[cold]
fn invalid(input: &str, what: impl fmt::Display) -> Error {
    Error::new(
        ErrorKind::InvalidReference,
        format!("invalid reference '{}': {what}", quote_input(input, 80)),
    )
}

#[cold]
fn invalid_segment(input: &str, index: usize, seg: &str, what: impl fmt::Display) -> Error {
    invalid(
        input,
        format_args!("segment {index} '{}' {what}", quote_input(seg, 40)),
    )
}

/// The AND of the character classes of every byte of `text` (`0xFF` for the empty string).
#[inline]
fn class_mask(text: &str) -> u8 {
    text.bytes()
        .fold(0xFF, |mask, b| mask & CLASSES[b as usize])
}

/// Checks `seg` (whose [`class_mask`] is `mask`) against the rule for `part`.
#[inline]
fn check_segment(input: &str, index: usize, seg: &str, mask: u8, part: Part) -> Result<()> {
    let bytes = seg.as_bytes();
    let sized = !bytes.is_empty() && bytes.len() <= MAX_SEGMENT_LEN;
    let ok = match part {
        Part::Id => sized && mask & ID_CHAR != 0,
        _ => sized && mask & NAME_REST != 0 && CLASSES[bytes[0] as usize] & NAME_FIRST != 0,
    };
    if ok {
        Ok(())
    } else {
        Err(segment_error(input, index, seg, part))
    }
}

/// Explains why `seg` is not a valid `part`.
#[cold]
fn segment_error(input: &str, index: usize, seg: &str, part: Part) -> Error {
    let noun = part.noun();
    if seg.is_empty() {
        return invalid(
            input,
            format_args!("segment {index} is empty (expected {noun})"),
        );
    }
    if seg.len() > MAX_SEGMENT_LEN {
        return invalid_segment(
            input,
            index,
            seg,
            format_args!(
                "is {} bytes long (expected {noun} of at most {MAX_SEGMENT_LEN})",
                seg.len()
            ),
        );
    }
    let (offset, bad) = seg
        .char_indices()
        .find(|&(i, c)| {
            let class = if c.is_ascii() { CLASSES[c as usize] } else { 0 };
            match part {
                Part::Id => class & ID_CHAR == 0,
                _ if i == 0 => class & NAME_FIRST == 0,
                _ => class & NAME_REST == 0,
            }
        })
        .unwrap_or((0, '?'));
    let why = if bad.is_whitespace() {
        "whitespace".to_string()
    } else if !bad.is_ascii() {
        format!("the non-ASCII character '{}'", bad.escape_default())
    } else if bad.is_ascii_uppercase() {
        format!("the uppercase letter '{bad}' ({noun} is lowercase)")
    } else if bad.is_ascii_control() {
        format!("the control character '{}'", bad.escape_default())
    } else if offset == 0 && (bad == '-' || bad == '_') {
        format!("'{bad}' as its first character")
    } else {
        format!("'{bad}'")
    };
    invalid_segment(
        input,
        index,
        seg,
        format_args!(
            "contains {why} at offset {offset} (expected {noun}: {})",
            part.rule()
        ),
    )
}

/// Whether `text` is a valid provider, team or name segment (`[a-z0-9][a-z0-9_-]{0,127}`).
///
/// ```
/// assert!(runbeam_core::reference::is_valid_name("fhir-api"));
/// assert!(!runbeam_core::reference::is_valid_name("Fhir"));
/// ```
pub fn is_valid_name(text: &str) -> bool {
    let bytes = text.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= MAX_SEGMENT_LEN
        && class_mask(text) & NAME_REST != 0
        && CLASSES[bytes[0] as usize] & NAME_FIRST != 0
}

/// Whether `text` is a valid id segment (`[A-Za-z0-9_-]{1,128}`).
///
/// ```
/// assert!(runbeam_core::reference::is_valid_id("01J9Z3ABC"));
/// assert!(!runbeam_core::reference::is_valid_id("a.b"));
/// ```
pub fn is_valid_id(text: &str) -> bool {
    !text.is_empty() && text.len() <= MAX_SEGMENT_LEN && class_mask(text) & ID_CHAR != 0
}

/// Checks a lookup keyword: exactly `id` or `name`, lowercase.
#[inline]
fn check_keyword(input: &str, index: usize, seg: &str, allowed: &[Lookup]) -> Result<Lookup> {
    for &lookup in allowed {
        if seg == lookup.as_str() {
            return Ok(lookup);
        }
    }
    Err(keyword_error(input, index, seg, allowed))
}

#[cold]
fn keyword_error(input: &str, index: usize, seg: &str, allowed: &[Lookup]) -> Error {
    let expected = match allowed {
        [one] => format!("'{one}'"),
        _ => "'id' or 'name'".to_string(),
    };
    if allowed.iter().any(|l| l.as_str().eq_ignore_ascii_case(seg)) {
        invalid_segment(
            input,
            index,
            seg,
            format_args!("is not a keyword: keywords are lowercase (expected {expected})"),
        )
    } else {
        invalid_segment(
            input,
            index,
            seg,
            format_args!("is not a lookup keyword (expected {expected})"),
        )
    }
}

#[inline]
fn value_part(lookup: Lookup) -> Part {
    match lookup {
        Lookup::Id => Part::Id,
        Lookup::Name => Part::Name,
    }
}

/// The dot-separated segments of a reference (at most 6: a sixth only to report it) with the
/// class mask of each, computed in one pass over the bytes.
struct Segments<'a> {
    text: [&'a str; 6],
    mask: [u8; 6],
    count: usize,
}

impl<'a> Segments<'a> {
    #[inline]
    fn split(input: &'a str) -> Self {
        let mut segs = Segments {
            text: [""; 6],
            mask: [0xFF; 6],
            count: 0,
        };
        let (mut start, mut mask) = (0, 0xFF_u8);
        for (i, &b) in input.as_bytes().iter().enumerate() {
            if b == b'.' {
                // `i` is at an ASCII '.': always a character boundary.
                segs.text[segs.count] = input.get(start..i).unwrap_or_default();
                segs.mask[segs.count] = mask;
                segs.count += 1;
                (start, mask) = (i + 1, 0xFF);
                if segs.count == 5 {
                    break; // the rest is a sixth segment (or more): only reported
                }
            } else {
                mask &= CLASSES[b as usize];
            }
        }
        segs.text[segs.count] = input.get(start..).unwrap_or_default();
        segs.mask[segs.count] = if segs.count == 5 { 0 } else { mask };
        segs.count += 1;
        segs
    }

    #[inline]
    fn check(&self, input: &str, index: usize, part: Part) -> Result<()> {
        check_segment(input, index, self.text[index], self.mask[index], part)
    }
}

#[inline]
fn parse(input: &str) -> Result<Reference> {
    if input.is_empty() {
        return Err(invalid(input, "the reference is empty"));
    }
    if input.len() > MAX_REFERENCE_LEN {
        return Err(invalid(
            input,
            format_args!(
                "the reference is {} bytes long (at most {MAX_REFERENCE_LEN})",
                input.len()
            ),
        ));
    }

    let segs = Segments::split(input);
    let count = segs.count;
    match count {
        1 => {
            segs.check(input, 0, Part::Name)?;
            Ok(Reference::build(
                input,
                None,
                None,
                None,
                Lookup::Name,
                segs.text[0],
            ))
        }
        2 => Err(two_segment_error(input, &segs.text)),
        3 => parse3(input, &segs),
        4 => parse4(input, &segs),
        5 => parse5(input, &segs),
        _ => Err(invalid_segment(
            input,
            5,
            segs.text[5].split('.').next().unwrap_or(""),
            "is one too many: a reference has at most 5 segments",
        )),
    }
}

#[cold]
fn two_segment_error(input: &str, segs: &[&str; 6]) -> Error {
    if segs[1] == "id" || segs[1] == "name" {
        invalid_segment(input, 1, segs[1], "is not followed by a value")
    } else {
        invalid(
            input,
            "it has 2 segments (expected <name>, local.name.<name>, <provider>.id.<id>, \
             <provider>.<team>.id.<id> or <provider>.<team>.<type>.name|id.<value>)",
        )
    }
}

/// `local.name.<name>` or `<provider>.id.<id>`.
#[inline]
fn parse3(input: &str, segs: &Segments<'_>) -> Result<Reference> {
    let [provider, keyword, value, ..] = segs.text;
    if provider == LOCAL_PROVIDER {
        if keyword == "id" {
            return Err(invalid_segment(
                input,
                1,
                keyword,
                "is not allowed here: local resources have names only \
                 (use local.name.<name> or <name>)",
            ));
        }
        check_keyword(input, 1, keyword, &[Lookup::Name])?;
        segs.check(input, 2, Part::Name)?;
        return Ok(Reference::build(
            input,
            None,
            None,
            None,
            Lookup::Name,
            value,
        ));
    }
    segs.check(input, 0, Part::Provider)?;
    if keyword == "name" {
        return Err(invalid_segment(
            input,
            1,
            keyword,
            format_args!(
                "is not allowed here: names are unique only within a team \
                 (use {FULL_NAME_FORM})"
            ),
        ));
    }
    check_keyword(input, 1, keyword, &[Lookup::Id])?;
    segs.check(input, 2, Part::Id)?;
    Ok(Reference::build(
        input,
        Some(provider),
        None,
        None,
        Lookup::Id,
        value,
    ))
}

#[cold]
fn local_with_team_error(input: &str) -> Error {
    invalid_segment(
        input,
        0,
        LOCAL_PROVIDER,
        "cannot have a team or type: local resources have names only \
         (use local.name.<name> or <name>)",
    )
}

/// `<provider>.<team>.id.<id>`.
#[inline]
fn parse4(input: &str, segs: &Segments<'_>) -> Result<Reference> {
    let [provider, team, keyword, value, ..] = segs.text;
    if provider == LOCAL_PROVIDER {
        return Err(local_with_team_error(input));
    }
    segs.check(input, 0, Part::Provider)?;
    segs.check(input, 1, Part::Team)?;
    if keyword == "name" {
        return Err(invalid_segment(
            input,
            2,
            keyword,
            format_args!(
                "is not allowed here: a name needs its resource type (use {FULL_NAME_FORM})"
            ),
        ));
    }
    if keyword != "id" && ResourceType::from_name(keyword).is_some() {
        return Err(invalid_segment(
            input,
            3,
            value,
            format_args!(
                "is not a lookup keyword: the type '{}' must be followed by 'id' or 'name' and a value",
                keyword.to_ascii_lowercase()
            ),
        ));
    }
    check_keyword(input, 2, keyword, &[Lookup::Id])?;
    segs.check(input, 3, Part::Id)?;
    Ok(Reference::build(
        input,
        Some(provider),
        Some(team),
        None,
        Lookup::Id,
        value,
    ))
}

/// `<provider>.<team>.<type>.name.<name>` or `<provider>.<team>.<type>.id.<id>`.
#[inline]
fn parse5(input: &str, segs: &Segments<'_>) -> Result<Reference> {
    let [provider, team, type_name, keyword, value, ..] = segs.text;
    if provider == LOCAL_PROVIDER {
        return Err(local_with_team_error(input));
    }
    segs.check(input, 0, Part::Provider)?;
    segs.check(input, 1, Part::Team)?;
    let Some(resource_type) = ResourceType::from_name(type_name) else {
        return Err(not_a_type_error(input, type_name));
    };
    let lookup = check_keyword(input, 3, keyword, &[Lookup::Name, Lookup::Id])?;
    segs.check(input, 4, value_part(lookup))?;
    Ok(Reference::build(
        input,
        Some(provider),
        Some(team),
        Some((resource_type, type_name)),
        lookup,
        value,
    ))
}

#[cold]
fn not_a_type_error(input: &str, type_name: &str) -> Error {
    let lower = type_name.to_ascii_lowercase();
    let hint = ResourceType::ALL
        .into_iter()
        .find(|t| edit_distance(&lower, t.as_str()) <= 2)
        .map(|t| format!("; did you mean '{t}'?"))
        .unwrap_or_default();
    invalid_segment(
        input,
        2,
        type_name,
        format_args!("is not a resource type (expected one of {TYPE_LIST}){hint}"),
    )
}

/// Levenshtein distance of two short ASCII strings (for "did you mean" hints).
fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, &ca) in a.iter().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let substitution = diagonal + usize::from(ca != cb);
            diagonal = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(row[j + 1] + 1);
        }
    }
    row[b.len()]
}

impl Reference {
    /// Assembles a reference from validated parts, all sub-slices of `input`.
    #[inline]
    fn build(
        input: &str,
        provider: Option<&str>,
        team: Option<&str>,
        resource_type: Option<(ResourceType, &str)>,
        lookup: Lookup,
        value: &str,
    ) -> Reference {
        if provider.is_none() {
            // Local: the canonical form is the bare name.
            return Reference {
                text: value.into(),
                provider: None,
                team: None,
                resource_type: None,
                lookup,
                value: Span {
                    start: 0,
                    end: value.len() as u16,
                },
            };
        }
        // Remote: the canonical form has the input's layout; only the type's case may differ.
        let text: Box<str> = match resource_type {
            Some((t, written)) if written != t.as_str() => {
                let start = written.as_ptr() as usize - input.as_ptr() as usize;
                let before = input.get(..start).unwrap_or_default();
                let after = input.get(start + written.len()..).unwrap_or_default();
                let mut s = String::with_capacity(input.len());
                s.push_str(before);
                s.push_str(t.as_str());
                s.push_str(after);
                s.into_boxed_str()
            }
            _ => input.into(),
        };
        Reference {
            provider: provider.map(|p| Span::of(input, p)),
            team: team.map(|t| Span::of(input, t)),
            resource_type: resource_type.map(|(t, _)| t),
            lookup,
            value: Span::of(input, value),
            text,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> String {
        Reference::parse(text).unwrap_err().to_string()
    }

    #[test]
    fn parses_all_six_forms() {
        let r = Reference::parse("fhir-api").unwrap();
        assert!(r.is_local());
        assert_eq!(
            (r.provider(), r.team(), r.value()),
            ("local", None, "fhir-api")
        );

        let r = Reference::parse("local.name.fhir-api").unwrap();
        assert!(r.is_local());
        assert_eq!(r.to_string(), "fhir-api");

        let r = Reference::parse("runbeam.id.01HZX").unwrap();
        assert_eq!(
            (r.provider(), r.team(), r.lookup(), r.value()),
            ("runbeam", None, Lookup::Id, "01HZX")
        );

        let r = Reference::parse("runbeam.acme.id.abc").unwrap();
        assert_eq!((r.team(), r.resource_type()), (Some("acme"), None));

        let r = Reference::parse("runbeam.acme.egress.name.out").unwrap();
        assert_eq!(r.resource_type(), Some(ResourceType::Egress));
        assert_eq!(r.lookup(), Lookup::Name);

        let r = Reference::parse("runbeam.acme.MESH.id.X_1").unwrap();
        assert_eq!(r.to_string(), "runbeam.acme.mesh.id.X_1");
        assert_eq!(r.team(), Some("acme"));
        assert_eq!(r.value(), "X_1");
    }

    #[test]
    fn equality_uses_canonical_form() {
        let a = Reference::parse("local.name.x").unwrap();
        let b = Reference::parse("x").unwrap();
        assert_eq!(a, b);
        let c = Reference::parse("p.t.Ingress.id.1").unwrap();
        let d = Reference::parse("p.t.ingress.id.1").unwrap();
        assert_eq!(c, d);
    }

    #[test]
    fn spec_example_message() {
        assert_eq!(
            err("runbeam.acme.widget.name.api"),
            "invalid reference 'runbeam.acme.widget.name.api': segment 2 'widget' is not a \
             resource type (expected one of ingress, egress, pipeline, endpoint, backend, mesh)"
        );
    }

    #[test]
    fn rejections_name_the_segment() {
        assert!(err("runbeam.name.api").contains("segment 1 'name'"));
        assert!(err("runbeam.name.api").contains(FULL_NAME_FORM));
        assert!(err("local.id.x").contains("segment 1 'id'"));
        assert!(err("local.acme.ingress.name.x").contains("segment 0 'local'"));
        assert!(err("runbeam.acme.ingress.NAME.x").contains("keywords are lowercase"));
        assert!(err("runbeam..id.x").contains("segment 1 is empty (expected a team)"));
        assert!(err("runbeam.Acme.id.x").contains("uppercase letter 'A'"));
        assert!(err("runbeam.acme.id.a b").contains("whitespace"));
        assert!(err("runbeam.acme.id.caf\u{e9}").contains("non-ASCII"));
        assert!(err("a.b.c.d.e.f").contains("segment 5 'f'"));
        assert!(err("a.b.c.d.e.f.g").contains("segment 5 'f'"));
        assert!(err("runbeam.acme").contains("2 segments"));
        assert!(err("runbeam.id").contains("segment 1 'id' is not followed by a value"));
        assert!(err("-x").contains("'-' as its first character"));
        assert!(err("").contains("empty"));
        assert!(err("runbeam.acme.ingress.api").contains("segment 3 'api'"));
        assert!(err("runbeam.acme.name.api").contains("segment 2 'name'"));
    }

    #[test]
    fn near_miss_types_get_a_hint() {
        assert!(err("runbeam.t.igress.name.x").ends_with("mesh); did you mean 'ingress'?"));
        assert!(err("runbeam.t.EGRES.name.x").ends_with("did you mean 'egress'?"));
        assert!(err("runbeam.t.widget.name.x").ends_with("backend, mesh)"));
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }

    #[test]
    fn limits() {
        let seg = "a".repeat(128);
        assert!(Reference::parse(&seg).is_ok());
        let long = "a".repeat(129);
        assert!(err(&long).contains("129 bytes long"));
        let id = "A".repeat(128);
        let r = format!("{}.{}.ingress.id.{id}", "p".repeat(128), "t".repeat(128));
        assert!(r.len() <= MAX_REFERENCE_LEN);
        assert!(Reference::parse(&r).is_ok());
        let huge = "a".repeat(1 << 20);
        let msg = err(&huge);
        assert!(msg.contains("1048576 bytes long (at most 512)"));
        assert!(msg.len() < 300, "message must not echo the whole input");
    }
}
