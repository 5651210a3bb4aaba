//! Reads and writes gateway tokens with the published runbeam-sdk 0.11 (the SDK today's Runbeam
//! gateways and CLI use), so that librunbeam's token files can be checked against the real
//! thing: the fixtures in `tests/fixtures/storage/sdk-0.11/` are written by this program, and
//! the storage compatibility tests run it to read what librunbeam wrote.
//!
//! The SDK keeps its files under `$HOME/.runbeam/<instance>/`, so the caller points `HOME` at
//! a scratch directory.
//!
//! ```text
//! runbeam-sdk-0-11-cli write-machine <instance> <token> <expires_at> <gateway_id> [ability,…]
//! runbeam-sdk-0-11-cli read-machine <instance>
//! runbeam-sdk-0-11-cli write-user <instance> <token> <expires_at_unix> <id> <email> <name>
//! runbeam-sdk-0-11-cli read-user <instance>
//! ```
//!
//! `read-*` print the token as JSON on stdout (`null` when there is none). This is a test
//! program for fixture tokens: it prints them in clear.

use std::process::ExitCode;

use runbeam_sdk::runbeam_api::token_storage::{load_token, save_token, MachineToken};
use runbeam_sdk::runbeam_api::types::{UserInfo, UserToken};

const MACHINE: &str = "auth";
const USER: &str = "user_auth";

fn usage() -> ExitCode {
    eprintln!(
        "usage: runbeam-sdk-0-11-cli write-machine <instance> <token> <expires_at> <gateway_id> [abilities]\n\
         \x20      runbeam-sdk-0-11-cli read-machine <instance>\n\
         \x20      runbeam-sdk-0-11-cli write-user <instance> <token> <expires_at_unix> <id> <email> <name>\n\
         \x20      runbeam-sdk-0-11-cli read-user <instance>"
    );
    ExitCode::from(2)
}

async fn run(args: &[String]) -> Result<(), String> {
    match args {
        [cmd, instance, token, expires_at, gateway_id, rest @ ..]
            if cmd == "write-machine" && rest.len() <= 1 =>
        {
            let abilities = rest
                .first()
                .map(|a| a.split(',').filter(|s| !s.is_empty()).map(String::from).collect())
                .unwrap_or_default();
            let token = MachineToken::new(
                token.clone(),
                expires_at.clone(),
                gateway_id.clone(),
                abilities,
            );
            save_token(instance, MACHINE, &token)
                .await
                .map_err(|e| e.to_string())
        }
        [cmd, instance] if cmd == "read-machine" => {
            let token: Option<MachineToken> =
                load_token(instance, MACHINE).await.map_err(|e| e.to_string())?;
            println!("{}", json(&token)?);
            Ok(())
        }
        [cmd, instance, token, expires_at, id, email, name] if cmd == "write-user" => {
            let expires_at = expires_at
                .parse::<i64>()
                .map_err(|e| format!("expires_at_unix: {e}"))?;
            let user = UserInfo {
                id: id.clone(),
                email: email.clone(),
                name: name.clone(),
            };
            let token = UserToken::new(token.clone(), Some(expires_at), Some(user));
            save_token(instance, USER, &token)
                .await
                .map_err(|e| e.to_string())
        }
        [cmd, instance] if cmd == "read-user" => {
            let token: Option<UserToken> =
                load_token(instance, USER).await.map_err(|e| e.to_string())?;
            println!("{}", json(&token)?);
            Ok(())
        }
        _ => Err(String::new()),
    }
}

/// JSON of what the SDK loaded, through its own `Serialize`.
fn json<T: serde::Serialize>(value: &T) -> Result<String, String> {
    serde_json::to_string(value).map_err(|e| e.to_string())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) if message.is_empty() => usage(),
        Err(message) => {
            eprintln!("runbeam-sdk 0.11: {message}");
            ExitCode::FAILURE
        }
    }
}
