//! Stored token files, as read back from a disk an attacker may have written to. The first
//! byte chooses what the rest is: 0 → the whole encrypted token file (age binary or armored);
//! 1 → the JSON inside (encrypted with the instance's real key first, so it reaches the JSON
//! parser through the file store); 2 → the JSON through a memory store; 3 → the instance's
//! `encryption.key` file. Never a panic; a load is a token, nothing, or `StorageCorrupt` /
//! `Storage` naming the file — never `Internal`.
#![no_main]

use std::os::unix::fs::PermissionsExt as _;
use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use runbeam_core::storage::{
    FileTokenStore, MACHINE_TOKEN, MachineToken, MemoryTokenStore, TokenStore, load_machine_token,
    save_machine_token,
};
use runbeam_core::{ErrorKind, Secret};

const INSTANCE: &str = "fuzz-gw";

struct Files {
    store: FileTokenStore,
    token: PathBuf,
    key: PathBuf,
    key_bytes: Vec<u8>,
}

fn files() -> &'static Files {
    static FILES: OnceLock<Files> = OnceLock::new();
    FILES.get_or_init(|| {
        let root = std::env::temp_dir().join(format!("runbeam-fuzz-{}", std::process::id()));
        std::fs::create_dir_all(&root).unwrap();
        std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o700)).unwrap();
        let store = FileTokenStore::new(&root);
        let expires = time::OffsetDateTime::now_utc() + time::Duration::days(30);
        let token = MachineToken::new(Secret::new("mt_fuzz".into()), expires, "gw-1", vec![]);
        save_machine_token(&store, INSTANCE, &token).unwrap();
        let key = store.key_path(INSTANCE);
        Files {
            token: store.token_path(INSTANCE, MACHINE_TOKEN),
            key_bytes: std::fs::read(&key).unwrap(),
            key,
            store,
        }
    })
}

fn check(result: runbeam_core::Result<Option<MachineToken>>) {
    if let Err(e) = result {
        assert!(
            matches!(
                e.kind(),
                ErrorKind::StorageCorrupt | ErrorKind::Storage | ErrorKind::InvalidArgument
            ),
            "{e}"
        );
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let f = files();
    match mode % 4 {
        0 => {
            std::fs::write(&f.token, rest).unwrap();
            check(load_machine_token(&f.store, INSTANCE));
        }
        1 => {
            let json = String::from_utf8_lossy(rest).into_owned();
            if f.store.save(INSTANCE, MACHINE_TOKEN, &Secret::new(json)).is_ok() {
                check(load_machine_token(&f.store, INSTANCE));
            }
        }
        2 => {
            let store = MemoryTokenStore::new();
            let json = String::from_utf8_lossy(rest).into_owned();
            store.save(INSTANCE, MACHINE_TOKEN, &Secret::new(json)).unwrap();
            check(load_machine_token(&store, INSTANCE));
        }
        _ => {
            std::fs::write(&f.key, rest).unwrap();
            check(load_machine_token(&f.store, INSTANCE));
            std::fs::write(&f.key, &f.key_bytes).unwrap();
        }
    }
});
