//! Checks every row of the shared fixture file `tests/fixtures/references.tsv`.

use runbeam_core::{ErrorKind, Reference};

struct Valid<'a> {
    input: &'a str,
    canonical: &'a str,
    provider: &'a str,
    team: Option<&'a str>,
    resource_type: Option<&'a str>,
    lookup: &'a str,
    value: &'a str,
    is_local: bool,
}

fn fixture() -> String {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/fixtures/references.tsv"
    );
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn opt(field: &str) -> Option<&str> {
    (field != "-").then_some(field)
}

fn input(field: &str) -> &str {
    if field == "(empty)" { "" } else { field }
}

#[test]
fn valid_fixtures_parse_with_expected_parts() {
    let text = fixture();
    let mut count = 0;
    for line in text.lines().filter(|l| l.starts_with("valid\t")) {
        let f: Vec<&str> = line.split('\t').collect();
        let row = Valid {
            input: input(f[1]),
            canonical: f[2],
            provider: f[3],
            team: opt(f[4]),
            resource_type: opt(f[5]),
            lookup: f[6],
            value: f[7],
            is_local: f[8] == "1",
        };
        let r = Reference::parse(row.input).unwrap_or_else(|e| panic!("{}: {e}", row.input));
        assert_eq!(r.to_string(), row.canonical, "{}", row.input);
        assert_eq!(r.provider(), row.provider, "{}", row.input);
        assert_eq!(r.team(), row.team, "{}", row.input);
        assert_eq!(r.resource_type().map(|t| t.as_str()), row.resource_type);
        assert_eq!(r.lookup().as_str(), row.lookup, "{}", row.input);
        assert_eq!(r.value(), row.value, "{}", row.input);
        assert_eq!(r.is_local(), row.is_local, "{}", row.input);
        let shown = r.to_string();
        let again = Reference::parse(&shown).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(again, r);
        count += 1;
    }
    assert!(count >= 20, "only {count} valid rows");
}

#[test]
fn invalid_fixtures_fail_with_segment_and_reason() {
    let text = fixture();
    let mut count = 0;
    for line in text.lines().filter(|l| l.starts_with("invalid\t")) {
        let f: Vec<&str> = line.split('\t').collect();
        let (text, segment, fragment) = (input(f[1]), f[2], f[3]);
        let err = Reference::parse(text).expect_err(text);
        assert_eq!(err.kind(), ErrorKind::InvalidReference);
        let message = err.to_string();
        let prefix = format!("invalid reference '{}': ", text.escape_default());
        assert!(message.starts_with(&prefix), "{message:?} vs {prefix:?}");
        if segment != "-" {
            assert!(message.contains(&format!("segment {segment}")), "{message}");
        }
        assert!(message.contains(fragment), "{message:?} lacks {fragment:?}");
        count += 1;
    }
    assert!(count >= 25, "only {count} invalid rows");
}
