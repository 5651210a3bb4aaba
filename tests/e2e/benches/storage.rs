//! Save + load round trip of a machine token per storage backend (docs/spec.md §5; target ≤ 2 ms for
//! the file backend). The keyring row needs a Secret Service:
//!
//! `dbus-run-session -- bash scripts/with-keyring.sh cargo bench -p runbeam-e2e --bench storage`
//!
//! Without it (`cargo bench -p runbeam-e2e --bench storage`) the keyring row is skipped.
//! The file rows run in `RUNBEAM_BENCH_DIR` (default: the temp dir); a peer row does the
//! bare file operations (write temp, fsync, rename, fsync dir, read back) of the same size
//! in the same place, so the cost of the disk and ours can be told apart.

use std::fs;
use std::io::{Read, Write};
use std::path::Path;
use std::time::Instant;

use runbeam_core::storage::{
    self, FileTokenStore, KeyringTokenStore, MachineToken, MemoryTokenStore, TokenStore,
};

const ROUNDS: usize = 9;
const OPS: usize = 200;

fn token() -> MachineToken {
    serde_json::from_value(serde_json::json!({
        "machine_token": "mt_".to_string() + &"x".repeat(64),
        "expires_at": "2099-01-01T00:00:00Z",
        "gateway_id": "01JBENCHGATEWAY0000000000",
        "abilities": ["harmony:read", "harmony:write", "mesh:token"],
        "issued_at": "2026-11-25T00:00:00Z",
    }))
    .unwrap()
}

/// Median µs per iteration of `op`.
fn median_us(mut op: impl FnMut()) -> f64 {
    let mut samples: Vec<f64> = (0..ROUNDS)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..OPS {
                op();
            }
            start.elapsed().as_secs_f64() * 1e6 / OPS as f64
        })
        .collect();
    samples.sort_by(f64::total_cmp);
    samples[ROUNDS / 2]
}

/// One save followed by one load.
fn round_trip(store: &dyn TokenStore, instance: &str) -> f64 {
    let t = token();
    median_us(|| {
        storage::save_machine_token(store, instance, &t).unwrap();
        let back = storage::load_machine_token(store, instance)
            .unwrap()
            .unwrap();
        assert_eq!(back.gateway_id, t.gateway_id);
    })
}

/// The bare durable replace and read of a file of `size` bytes: the floor of any file store.
fn bare_file(dir: &Path, size: usize) -> f64 {
    fs::create_dir_all(dir).unwrap();
    let data = vec![b'x'; size];
    let (temp, target) = (dir.join("peer.tmp"), dir.join("peer"));
    median_us(|| {
        let mut f = fs::File::create(&temp).unwrap();
        f.write_all(&data).unwrap();
        f.sync_all().unwrap();
        fs::rename(&temp, &target).unwrap();
        fs::File::open(dir).unwrap().sync_all().unwrap();
        let mut back = Vec::new();
        fs::File::open(&target)
            .unwrap()
            .read_to_end(&mut back)
            .unwrap();
        assert_eq!(back.len(), size);
    })
}

fn main() {
    let base = std::env::var_os("RUNBEAM_BENCH_DIR").map_or_else(std::env::temp_dir, Into::into);
    let root = base.join(format!("runbeam-bench-storage-{}", std::process::id()));
    println!(
        "storage/rust: save + load of one machine token, median of {ROUNDS} rounds x {OPS}, µs"
    );
    let memory = MemoryTokenStore::new();
    println!(
        "  memory                                   {:9.1}",
        round_trip(&memory, "bench")
    );
    println!("  in {}", base.display());
    let file = FileTokenStore::new(&root);
    let ours = round_trip(&file, "bench");
    let size = fs::metadata(file.token_path("bench", storage::MACHINE_TOKEN))
        .unwrap()
        .len() as usize;
    let peer = bare_file(&root.join("peer"), size);
    println!("  file (age X25519, fsync, rename, flock)  {ours:9.1}   (target <= 2000)");
    println!(
        "  peer: bare write+fsync+rename+fsync dir+read of {size} bytes {peer:9.1}   (ours {:.2}x)",
        ours / peer
    );
    if std::env::var("RUNBEAM_TEST_SECRET_SERVICE").as_deref() == Ok("1") {
        let keyring = KeyringTokenStore::secret_service().unwrap();
        println!(
            "  keyring (Secret Service, gnome-keyring)  {:9.1}",
            round_trip(&keyring, "bench")
        );
        keyring.delete("bench", storage::MACHINE_TOKEN).ok();
    } else {
        println!("  keyring: skipped (run under scripts/with-keyring.sh)");
    }
    std::fs::remove_dir_all(&root).ok();
}
