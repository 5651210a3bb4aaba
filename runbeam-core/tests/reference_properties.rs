//! Property tests: round trip of every valid reference, and no panic on any input.

use proptest::prelude::*;
use runbeam_core::{Reference, ResourceType};

fn name() -> impl Strategy<Value = String> {
    "[a-z0-9][a-z0-9_-]{0,40}"
}

fn id() -> impl Strategy<Value = String> {
    "[A-Za-z0-9_-]{1,40}"
}

fn type_spelling() -> impl Strategy<Value = String> {
    (0..ResourceType::ALL.len(), any::<u64>()).prop_map(|(i, mask)| {
        // Random letter case: types are case-insensitive.
        ResourceType::ALL[i]
            .as_str()
            .chars()
            .enumerate()
            .map(|(n, c)| {
                if mask >> n & 1 == 1 {
                    c.to_ascii_uppercase()
                } else {
                    c
                }
            })
            .collect()
    })
}

fn valid_reference() -> impl Strategy<Value = String> {
    let provider = || name().prop_filter("not local", |p| p != "local");
    prop_oneof![
        name(),
        name().prop_map(|n| format!("local.name.{n}")),
        (provider(), id()).prop_map(|(p, i)| format!("{p}.id.{i}")),
        (provider(), name(), id()).prop_map(|(p, t, i)| format!("{p}.{t}.id.{i}")),
        (provider(), name(), type_spelling(), name())
            .prop_map(|(p, t, ty, n)| format!("{p}.{t}.{ty}.name.{n}")),
        (provider(), name(), type_spelling(), id())
            .prop_map(|(p, t, ty, i)| format!("{p}.{t}.{ty}.id.{i}")),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn display_round_trips(text in valid_reference()) {
        let r = Reference::parse(&text).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let shown = r.to_string();
        let again = Reference::parse(&shown).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(&again, &r);
        prop_assert_eq!(again.to_string(), shown.clone());
        prop_assert!(shown.len() <= text.len());
        prop_assert_eq!(shown.to_ascii_lowercase().len(), shown.len());
    }

    #[test]
    fn parse_never_panics_on_strings(text in "\\PC{0,80}|[a-zA-Z0-9._ -]{0,80}") {
        let _ = Reference::parse(&text);
    }

    #[test]
    fn parse_never_panics_on_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let text = String::from_utf8_lossy(&bytes);
        if let Err(e) = Reference::parse(&text) {
            prop_assert!(e.to_string().starts_with("invalid reference '"));
            prop_assert!(e.to_string().len() < 400);
        }
    }

    #[test]
    fn dotted_mutations_never_panic(text in valid_reference(), at in any::<usize>(), c in any::<char>()) {
        let mut s = text.clone();
        let pos = at % (s.len() + 1);
        if s.is_char_boundary(pos) {
            s.insert(pos, c);
        }
        let _ = Reference::parse(&s);
    }
}
