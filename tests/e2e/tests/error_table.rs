//! The C header agrees with the core's error table: `include/runbeam.h` (checked in, written by
//! cbindgen from the literal constants of `runbeam-ffi-cold/src/status.rs`) defines exactly one
//! `RUNBEAM_STATUS_*` per error kind, with the kind's number, plus `RUNBEAM_STATUS_OK`.
//!
//! `runbeam-ffi`'s own unit test compares its constants with the table; this one proves that
//! what C callers compile against has the same values (a stale header fails here even where
//! `make header-check` is not run).

use std::collections::BTreeMap;
use std::path::Path;

use runbeam_core::ErrorKind;

/// `#define RUNBEAM_STATUS_<NAME> <value>` lines of the header: name → value.
fn header_statuses() -> BTreeMap<String, i32> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../include/runbeam.h");
    let header = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    header
        .lines()
        .filter_map(|line| line.strip_prefix("#define "))
        .filter(|rest| rest.starts_with("RUNBEAM_STATUS_"))
        .map(|rest| {
            let (name, value) = rest
                .split_once(' ')
                .unwrap_or_else(|| panic!("cannot read #define {rest}"));
            let value = value
                .trim()
                .parse()
                .unwrap_or_else(|_| panic!("#define {rest} is not a number"));
            (name.to_owned(), value)
        })
        .collect()
}

#[test]
fn header_defines_exactly_the_table() {
    let mut expected: BTreeMap<String, i32> = ErrorKind::ALL
        .iter()
        .map(|kind| {
            let name = kind.c_status_name().to_str().expect("ASCII name");
            (name.to_owned(), kind.c_status())
        })
        .collect();
    expected.insert("RUNBEAM_STATUS_OK".to_owned(), 0);
    assert_eq!(header_statuses(), expected);
}
