//! The file store across processes: a writer killed with SIGKILL at random moments never
//! leaves a token that does not decrypt, and 8 processes updating one slot under the lock
//! lose no update.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use runbeam_core::storage::{self, FileTokenStore, MachineToken, TokenStore};

const WRITER: &str = env!("CARGO_BIN_EXE_token-writer");

fn temp_root(name: &str) -> PathBuf {
    let root = std::env::temp_dir().join(format!(
        "runbeam-{name}-{}-{:x}",
        std::process::id(),
        rand::random::<u32>()
    ));
    std::fs::create_dir_all(&root).unwrap();
    root
}

fn seed(root: &PathBuf, instance: &str) {
    let token: MachineToken = serde_json::from_value(serde_json::json!({
        "machine_token": "mt-seed", "expires_at": "2099-01-01T00:00:00Z", "gateway_id": "gw-crash",
    }))
    .unwrap();
    storage::save_machine_token(&FileTokenStore::new(root), instance, &token).unwrap();
}

#[test]
fn a_writer_killed_at_random_moments_leaves_the_previous_or_the_new_token() {
    let root = temp_root("crash");
    seed(&root, "gw");
    let store = FileTokenStore::new(&root);
    let mut last_seen = -1i64;
    for round in 0..200 {
        let mut child = Command::new(WRITER)
            .args(["crash-loop", root.to_str().unwrap(), "gw"])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut ready = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut ready)
            .unwrap();
        std::thread::sleep(Duration::from_micros(rand::random::<u64>() % 20_000));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let token = storage::load_machine_token(&store, "gw")
            .unwrap_or_else(|e| panic!("round {round}: {e}"))
            .expect("a token survives");
        let n: i64 = token
            .machine_token
            .expose()
            .strip_prefix("mt-")
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("round {round}: unexpected token"));
        assert!(n >= 0, "round {round}");
        last_seen = last_seen.max(n);
    }
    assert!(last_seen > 0, "the writer made progress");
    // Leftover temp files of killed writers are swept by the next save.
    storage::save_machine_token(
        &store,
        "gw",
        &storage::load_machine_token(&store, "gw").unwrap().unwrap(),
    )
    .unwrap();
    let leftovers = std::fs::read_dir(root.join("gw/runbeam"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .ends_with(".tmp")
        })
        .count();
    assert_eq!(leftovers, 0);
    std::fs::remove_dir_all(&root).ok();
}

#[test]
fn eight_processes_updating_under_the_lock_lose_nothing() {
    let root = temp_root("lock");
    seed(&root, "gw");
    let children: Vec<_> = (0..8)
        .map(|_| {
            Command::new(WRITER)
                .args(["increment", root.to_str().unwrap(), "gw", "100"])
                .spawn()
                .unwrap()
        })
        .collect();
    for mut child in children {
        assert!(child.wait().unwrap().success());
    }
    let counter = FileTokenStore::new(&root)
        .load("gw", "counter")
        .unwrap()
        .unwrap();
    assert_eq!(counter.expose(), "800", "no lost update");
    std::fs::remove_dir_all(&root).ok();
}
