//! A child process for the storage crash and concurrency tests (tests/storage_processes.rs).
//!
//! - `token-writer crash-loop <root> <instance>`: saves machine tokens `mt-0`, `mt-1`, … forever
//!   (the test kills it with SIGKILL at random moments).
//! - `token-writer increment <root> <instance> <n>`: `n` read-modify-write increments of a
//!   counter slot under the store's lock, each followed by a load of the machine token.
//! - `token-writer env-save <instance>`: one save through `FileTokenStore::from_env()` (so
//!   `RUNBEAM_HOME` is read in a process of its own, tests/storage_bad_input.rs); prints
//!   `ok <root>` or `err <ErrorKind name> <message>` and exits 0 or 1.

use runbeam_core::Secret;
use runbeam_core::storage::{self, FileTokenStore, MachineToken, TokenStore};

fn token(n: u64) -> MachineToken {
    serde_json::from_value(serde_json::json!({
        "machine_token": format!("mt-{n}"),
        "expires_at": "2099-01-01T00:00:00Z",
        "gateway_id": "gw-crash",
        "abilities": ["harmony:read"],
    }))
    .expect("token")
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (mode, root) = (&args[1], &args[2]);
    let instance = args.get(3).map_or("", String::as_str);
    let store = FileTokenStore::new(root);
    match mode.as_str() {
        "crash-loop" => {
            for n in 0u64.. {
                storage::save_machine_token(&store, instance, &token(n)).expect("save");
                if n == 0 {
                    println!("ready");
                }
            }
        }
        "increment" => {
            let n: u64 = args[4].parse().expect("count");
            for _ in 0..n {
                store
                    .update(instance, "counter", &mut |current| {
                        let value: u64 =
                            current.map_or(0, |s| s.expose().parse().expect("counter"));
                        Ok(Some(Secret::new((value + 1).to_string())))
                    })
                    .expect("update");
                storage::load_machine_token(&store, instance)
                    .expect("load")
                    .expect("a machine token is present");
            }
        }
        "env-save" => {
            let saved = storage::FileTokenStore::from_env().and_then(|store| {
                // In this mode the second argument is the instance id.
                storage::save_machine_token(&store, &args[2], &token(7)).map(|()| store)
            });
            match saved {
                Ok(store) => println!("ok {}", store.root().display()),
                Err(e) => {
                    println!("err {} {}", e.kind().name(), e.message());
                    std::process::exit(1);
                }
            }
        }
        other => panic!("unknown mode {other}"),
    }
}
