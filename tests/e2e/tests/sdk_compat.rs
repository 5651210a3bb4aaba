//! librunbeam and the published runbeam-sdk 0.11 read each other's token files (docs/storage-compat.md).
//!
//! The SDK side is `tests/compat/sdk-0.11`, a small program over the real crate, built by
//! `tests/compat/build.sh`; `make rust-test` passes its path in `RUNBEAM_SDK_0_11_CLI`. Without
//! it these tests say so and pass, except under CI (`CI` set), where a missing program fails.

use std::path::{Path, PathBuf};
use std::process::Command;

use runbeam_core::Secret;
use runbeam_core::storage::{
    self, FileTokenStore, MachineToken, UserToken, load_machine_token, save_machine_token,
};
use runbeam_e2e::TempDir;
use serde_json::{Value, json};
use time::OffsetDateTime;

fn sdk_cli() -> Option<PathBuf> {
    match std::env::var_os("RUNBEAM_SDK_0_11_CLI") {
        Some(path) => {
            let path = PathBuf::from(path);
            assert!(
                path.is_file(),
                "RUNBEAM_SDK_0_11_CLI={} is missing",
                path.display()
            );
            Some(path)
        }
        None if std::env::var_os("CI").is_some() => {
            panic!("RUNBEAM_SDK_0_11_CLI is not set: run these tests through `make rust-test`")
        }
        None => {
            eprintln!("skipped: RUNBEAM_SDK_0_11_CLI is not set (make rust-test sets it)");
            None
        }
    }
}

/// Runs the SDK program with `$HOME` = `home` (the SDK keeps its files in `$HOME/.runbeam`).
fn sdk(cli: &Path, home: &Path, args: &[&str]) -> String {
    let out = Command::new(cli)
        .args(args)
        .env("HOME", home)
        .env_remove("RUNBEAM_ENCRYPTION_KEY")
        .output()
        .expect("run the runbeam-sdk 0.11 program");
    assert!(
        out.status.success(),
        "runbeam-sdk 0.11 {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

fn sdk_json(cli: &Path, home: &Path, args: &[&str]) -> Value {
    serde_json::from_str(sdk(cli, home, args).trim()).expect("JSON from the SDK program")
}

fn time_of(value: &Value) -> OffsetDateTime {
    MachineToken::parse_time(value.as_str().expect("a date string")).expect("a date")
}

#[test]
fn runbeam_sdk_0_11_reads_the_tokens_librunbeam_writes() {
    let Some(cli) = sdk_cli() else { return };
    let home = TempDir::new("sdk011-read");
    let store = FileTokenStore::new(home.path().join(".runbeam"));
    let expires =
        OffsetDateTime::now_utc().replace_nanosecond(0).unwrap() + time::Duration::days(30);
    let machine = MachineToken::new(
        Secret::new("mt_written_by_librunbeam".into()),
        expires,
        "gw-lib",
        vec!["harmony:send".into(), "harmony:receive".into()],
    );
    save_machine_token(&store, "lib-gw", &machine).unwrap();
    let user: UserToken = serde_json::from_value(json!({
        "token": "user.jwt.librunbeam",
        "expires_at": 4_102_444_799_i64,
        "user": {"id": "u-7", "email": "grace@analytics.example", "name": "Grace H"},
    }))
    .unwrap();
    storage::save_user_token(&store, "lib-gw", &user).unwrap();

    let read = sdk_json(&cli, home.path(), &["read-machine", "lib-gw"]);
    assert_eq!(read["machine_token"], "mt_written_by_librunbeam");
    assert_eq!(read["gateway_id"], "gw-lib");
    assert_eq!(
        read["abilities"],
        json!(["harmony:send", "harmony:receive"])
    );
    assert_eq!(time_of(&read["expires_at"]), expires);
    assert_eq!(Some(time_of(&read["issued_at"])), machine.issued_at);

    let read = sdk_json(&cli, home.path(), &["read-user", "lib-gw"]);
    assert_eq!(read["token"], "user.jwt.librunbeam");
    assert_eq!(read["expires_at"], 4_102_444_799_i64);
    assert_eq!(read["user"]["email"], "grace@analytics.example");
}

#[test]
fn librunbeam_reads_and_replaces_the_tokens_runbeam_sdk_0_11_writes() {
    let Some(cli) = sdk_cli() else { return };
    let home = TempDir::new("sdk011-write");
    sdk(
        &cli,
        home.path(),
        &[
            "write-machine",
            "sdk-gw",
            "mt_written_by_sdk",
            "2099-06-30T12:00:00Z",
            "gw-sdk",
            "harmony:send",
        ],
    );
    sdk(
        &cli,
        home.path(),
        &[
            "write-user",
            "sdk-gw",
            "user.jwt.sdk",
            "4102444799",
            "u-1",
            "ada@radiology.example",
            "Ada L",
        ],
    );
    let store = FileTokenStore::new(home.path().join(".runbeam"));
    let machine = load_machine_token(&store, "sdk-gw")
        .unwrap()
        .expect("the SDK's token");
    assert_eq!(machine.machine_token.expose(), "mt_written_by_sdk");
    assert_eq!(machine.gateway_id, "gw-sdk");
    assert_eq!(machine.abilities, ["harmony:send"]);
    assert_eq!(
        machine.expires_at,
        MachineToken::parse_time("2099-06-30T12:00:00Z").unwrap()
    );
    let user = storage::load_user_token(&store, "sdk-gw")
        .unwrap()
        .expect("the SDK's user token");
    assert_eq!(user.token.expose(), "user.jwt.sdk");
    assert_eq!(user.expires_at.unwrap().unix_timestamp(), 4_102_444_799);

    // A renewal by librunbeam (same key) is what the SDK then reads.
    let renewed = MachineToken::new(
        Secret::new("mt_renewed_by_librunbeam".into()),
        machine.expires_at,
        "gw-sdk",
        machine.abilities.clone(),
    );
    save_machine_token(&store, "sdk-gw", &renewed).unwrap();
    let read = sdk_json(&cli, home.path(), &["read-machine", "sdk-gw"]);
    assert_eq!(read["machine_token"], "mt_renewed_by_librunbeam");
    assert_eq!(read["gateway_id"], "gw-sdk");
}
