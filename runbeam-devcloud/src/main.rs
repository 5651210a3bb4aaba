//! `runbeam-devcloud --listen 127.0.0.1:0 [--seed FILE]`: prints its URL on the first stdout
//! line, logs to stderr, exits 0 on SIGINT/SIGTERM.

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use runbeam_devcloud::{DevCloud, load_seed};

const USAGE: &str = "\
runbeam-devcloud: a local Runbeam Cloud (SPEC §7)

USAGE:
    runbeam-devcloud [--listen ADDR] [--seed FILE]

OPTIONS:
    --listen ADDR   address to listen on (default 127.0.0.1:0, a free port)
    --seed FILE     seed TOML (default: the built-in examples/devcloud/seed.toml)
    -h, --help      print this help

The first line on stdout is the server URL (e.g. http://127.0.0.1:41234); the API root is
that URL + /api. Development endpoints live under /_dev (loopback clients only).
Stops on SIGINT or SIGTERM with exit status 0.";

struct Args {
    listen: SocketAddr,
    seed: Option<PathBuf>,
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Option<Args>, String> {
    let mut listen = SocketAddr::from(([127, 0, 0, 1], 0));
    let mut seed = None;
    while let Some(arg) = args.next() {
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n.to_owned(), Some(v.to_owned())),
            _ => (arg.clone(), None),
        };
        let mut value = |name: &str| {
            inline
                .clone()
                .or_else(|| args.next())
                .ok_or_else(|| format!("{name} needs a value"))
        };
        match name.as_str() {
            "-h" | "--help" => return Ok(None),
            "--listen" => {
                let text = value("--listen")?;
                listen = text.parse().map_err(|e| {
                    format!("--listen: '{text}' is not an address like 127.0.0.1:0 ({e})")
                })?;
            }
            "--seed" => seed = Some(PathBuf::from(value("--seed")?)),
            other => return Err(format!("unknown argument '{other}' (see --help)")),
        }
    }
    Ok(Some(Args { listen, seed }))
}

fn main() -> ExitCode {
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(Some(args)) => args,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("runbeam-devcloud: {message}");
            return ExitCode::from(2);
        }
    };
    let seed = match load_seed(args.seed.as_deref()) {
        Ok(seed) => seed,
        Err(e) => {
            eprintln!("runbeam-devcloud: invalid seed: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("runbeam-devcloud: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(run(args.listen, seed))
}

async fn run(listen: SocketAddr, seed: runbeam_devcloud::Seed) -> ExitCode {
    let cloud = match DevCloud::start_on(listen, seed).await {
        Ok(cloud) => cloud,
        Err(e) => {
            eprintln!("runbeam-devcloud: cannot listen on {listen}: {e}");
            return ExitCode::FAILURE;
        }
    };
    {
        let mut out = std::io::stdout().lock();
        if writeln!(out, "{}", cloud.url())
            .and_then(|()| out.flush())
            .is_err()
        {
            eprintln!("runbeam-devcloud: cannot write the URL to stdout");
        }
    }
    eprintln!(
        "runbeam-devcloud: listening on {} (API root {})",
        cloud.url(),
        cloud.api_root()
    );
    let signal = wait_for_signal().await;
    eprintln!("runbeam-devcloud: {signal}, shutting down");
    cloud.shutdown().await;
    ExitCode::SUCCESS
}

#[cfg(unix)]
async fn wait_for_signal() -> &'static str {
    use tokio::signal::unix::{SignalKind, signal};
    match (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) {
        (Ok(mut int), Ok(mut term)) => tokio::select! {
            _ = int.recv() => "SIGINT",
            _ = term.recv() => "SIGTERM",
        },
        _ => {
            let _ = tokio::signal::ctrl_c().await;
            "interrupt"
        }
    }
}

#[cfg(not(unix))]
async fn wait_for_signal() -> &'static str {
    let _ = tokio::signal::ctrl_c().await;
    "interrupt"
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Option<Args>, String> {
        parse_args(args.iter().map(|s| (*s).to_owned()))
    }

    #[test]
    fn arguments() {
        let a = parse(&["--listen", "127.0.0.1:8080", "--seed", "s.toml"])
            .unwrap()
            .unwrap();
        assert_eq!(a.listen.port(), 8080);
        assert_eq!(a.seed.unwrap(), PathBuf::from("s.toml"));
        let a = parse(&["--listen=[::1]:0"]).unwrap().unwrap();
        assert!(a.listen.is_ipv6());
        assert!(parse(&["--help"]).unwrap().is_none());
        assert!(parse(&["--listen"]).is_err());
        assert!(parse(&["--listen", "nope"]).is_err());
        assert!(parse(&["--bogus"]).is_err());
    }
}
