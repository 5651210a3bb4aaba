"""Cold start and memory of librunbeam's four surfaces against runbeam-devcloud on loopback.

    python3 benches/startup/run.py --devcloud PATH --python PY --c BIN --rust BIN [--rounds N]
                                   [--only coldstart|memory]

(run by `bash scripts/bench.sh startup`, which builds and stages everything first).

Fixture (build/startup/): a devcloud seed = examples/devcloud/seed.toml plus 10,000 ingresses of
team radiology-dept in the mesh imaging-integration; team ai-analytics' configuration
(examples/config/ai-analytics.toml) whose mesh lists all of them (for the memory figures; the
cold start uses examples/config/ai-analytics.toml as it is and resolves its dicomweb ingress);
10,000 distinct RS256 user tokens minted by POST /_dev/jwt {"count": 10000}.

Cold start: each program is exec'd afresh, `--rounds` times, the languages interleaved within a
round. run.py reads CLOCK_REALTIME just before exec; the program prints the CLOCK_REALTIME of its
own milestones (benches/startup/startup.{py,js,c,rs}):
  load       exec -> the library is usable (process start, dynamic loading, interpreter start,
             `import runbeam` / `require('@runbeam/sdk')`)
  construct  the validator (trusted issuer) / the configuration + client + token manager +
             resolver are built
  round trip the first network round trip: the JWKS fetch and key parse (refresh_keys) / the
             machine token's authorize (ensure_token)
  answer     the first validated token / the first resolved reference (one more round trip)
Peers: PyJWT (PyJWKClient + decode) and jose (createRemoteJWKSet + jwtVerify: its fetch happens
inside the first jwtVerify, so its round trip is part of its answer); the bare interpreter
(`python -c`, `node -e`) as the floor.

Memory: VmRSS (/proc/self/status) in a fresh process before and after 10,000 entries were
cached (a GC before each reading where the language has one): tokens validated twice each (the
verified-token cache keeps a token from its second verification on; capacity 20,000), and
references resolved once each against the devcloud. Peers: a dict / Map of the same tokens'
claims decoded by PyJWT / jose.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HERE = ROOT / "benches" / "startup"
OUT = ROOT / "build" / "startup"
ENTRIES = 10_000
REF_PREFIX = "runbeam.radiology-dept.ingress.name."
MILESTONES = ("load", "construct", "fetch", "first")


def make_fixture() -> tuple[Path, Path, Path]:
    """The seed, the configuration and the reference list (written when missing)."""
    OUT.mkdir(parents=True, exist_ok=True)
    seed, config, refs = OUT / "seed.toml", OUT / "ai-analytics.toml", OUT / "references.txt"
    names = [f"bench-{i:05d}" for i in range(ENTRIES)]
    lines = [(ROOT / "examples" / "devcloud" / "seed.toml").read_text()]
    for i, name in enumerate(names):
        lines.append(
            f'\n[[ingresses]]\nid = "BENCH{i:05d}"\nname = "{name}"\nteam = "radiology-dept"\n'
            f'urls = ["https://{name}.radiology.example.com"]\nprotocol = "http3"\n'
            f'mode = "mesh"\nmesh = "imaging-integration"\n'
        )
    seed.write_text("".join(lines))
    text = (ROOT / "examples" / "config" / "ai-analytics.toml").read_text()
    anchor = '  "runbeam.radiology-dept.ingress.name.dicomweb",\n'
    if anchor not in text:
        raise SystemExit("examples/config/ai-analytics.toml changed: update run.py's anchor")
    listed = "".join(f'  "{REF_PREFIX}{n}",\n' for n in names)
    config.write_text(text.replace(anchor, anchor + listed))
    refs.write_text("".join(f"{REF_PREFIX}{n}\n" for n in names))
    return seed, config, refs


def start_devcloud(devcloud: str, seed: Path) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen(
        [devcloud, "--listen", "127.0.0.1:0", "--seed", str(seed)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    url = proc.stdout.readline().strip()
    if not url.startswith("http"):
        proc.kill()
        raise SystemExit(f"{devcloud} did not start")
    return proc, url


def mint(url: str, count: int) -> list[str]:
    body = json.dumps({"email": "alice@radiology.example.com", "count": count}).encode()
    req = urllib.request.Request(
        url + "/_dev/jwt", data=body, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(req) as r:
        return json.loads(r.read())["tokens"]


def run_once(argv: list[str], env: dict[str, str]) -> dict:
    t0 = time.time_ns()
    done = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=ROOT)
    if done.returncode != 0:
        raise SystemExit(f"{argv[0]} {argv[1:3]} failed ({done.returncode}):\n{done.stderr}")
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    figures["exec"] = t0
    return figures


def ms(ns: float) -> str:
    return f"{ns / 1e6:7.1f}"


def spread(values: list[float]) -> str:
    return f"{statistics.median(values) / 1e6:7.1f} ({min(values) / 1e6:.1f}-{max(values) / 1e6:.1f})"


def coldstart(variants: list[tuple[str, list[str], dict]], rounds: int) -> None:
    results: dict[str, list[dict]] = {name: [] for name, _, _ in variants}
    for name, argv, env in variants:  # warm-up: page cache, first-run effects
        run_once(argv, env)
    for _ in range(rounds):
        for name, argv, env in variants:
            results[name].append(run_once(argv, env))
    print(f"\nCold start, ms from exec (median of {rounds} runs, min-max)")
    print(f"{'':34} {'load':>19} {'construct':>19} {'round trip':>19} {'answer':>19} {'total':>19}")
    for name, _, _ in variants:
        runs = results[name]
        if "load" not in runs[0]:  # a floor: the first line of the program
            total = [r["start"] - r["exec"] for r in runs]
            print(f"{name:34} {spread(total):>19} {'':>19} {'':>19} {'':>19} {spread(total):>19}")
            continue
        cols = []
        previous = "exec"
        for m in MILESTONES:
            cols.append(spread([r[m] - r[previous] for r in runs]))
            previous = m
        cols.append(spread([r["first"] - r["exec"] for r in runs]))
        print(f"{name:34} " + " ".join(f"{c:>19}" for c in cols))


def memory(variants: list[tuple[str, list[str], dict]], runs: int) -> None:
    print(f"\nMemory: VmRSS growth for {ENTRIES:,} cached entries (median of {runs} fresh processes, min-max)")
    for name, argv, env in variants:
        growth, heap, entries = [], [], None
        for _ in range(runs):
            r = run_once(argv, env)
            growth.append(r["after"] - r["before"])
            if "heap_after" in r:
                heap.append(r["heap_after"] - r["heap_before"])
            entries = r["entries"]
        med = statistics.median(growth)
        v8 = f"; V8 heap in use +{statistics.median(heap) / entries:.0f} B/entry" if heap else ""
        print(
            f"  {name:44} {med / 1048576:6.2f} MiB  {med / entries:6.0f} B/entry"
            f"  ({min(growth) / entries:.0f}-{max(growth) / entries:.0f}; {entries} entries{v8})"
        )


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--devcloud", required=True)
    p.add_argument("--python", required=True, help="a Python with runbeam, PyJWT and joserfc")
    p.add_argument("--node-path", required=True, help="node_modules holding @runbeam/sdk and jose")
    p.add_argument("--c", required=True, help="benches/startup/startup.c built")
    p.add_argument("--rust", required=True, help="benches/startup/startup.rs built")
    p.add_argument("--rounds", type=int, default=15)
    p.add_argument("--memory-runs", type=int, default=3)
    p.add_argument("--only", choices=("coldstart", "memory"))
    args = p.parse_args()

    seed, config, refs = make_fixture()
    devcloud, url = start_devcloud(args.devcloud, seed)
    try:
        tokens_file = OUT / "tokens.txt"
        tokens = mint(url, ENTRIES)
        tokens_file.write_text("\n".join(tokens) + "\n")
        token = mint(url, 1)[0]
        # Cold start resolves with the example configuration as it ships (one mesh, two
        # references); the 10,000-reference configuration is for the memory figures.
        example = str(ROOT / "examples" / "config" / "ai-analytics.toml")
        ref = "runbeam.radiology-dept.ingress.name.dicomweb"
        env = dict(os.environ)
        node_env = dict(env, NODE_PATH=args.node_path)
        py = [args.python, "-c", (HERE / "startup.py").read_text()]
        node = ["node", str(HERE / "startup.js")]
        node_gc = ["node", "--expose-gc", str(HERE / "startup.js")]
        print(f"runbeam-devcloud {url}; load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        if args.only in (None, "coldstart"):
            coldstart(
                [
                    ("Python floor (python -c)", py + ["floor"], env),
                    ("Python runbeam: first token", py + ["jwt", url, token], env),
                    ("Python PyJWT: first token", py + ["pyjwt", url, token], env),
                    ("Python runbeam: first resolve", py + ["resolve", url, example, ref], env),
                    ("Node floor (node -e)", ["node", "-e", "console.log(JSON.stringify({start: Math.round((performance.timeOrigin + performance.now()) * 1e6)}))"], env),
                    ("Node @runbeam/sdk: first token", node + ["jwt", url, token], node_env),
                    ("Node jose: first token", node + ["jose", url, token], node_env),
                    ("Node @runbeam/sdk: first resolve", node + ["resolve", url, example, ref], node_env),
                    ("C librunbeam.so: first token", [args.c, "jwt", url, token], env),
                    ("C librunbeam.so: first resolve", [args.c, "resolve", url, example, ref], env),
                    ("Rust runbeam-core: first token", [args.rust, "jwt", url, token], env),
                    ("Rust runbeam-core: first resolve", [args.rust, "resolve", url, example, ref], env),
                ],
                args.rounds,
            )
        if args.only in (None, "memory"):
            memory(
                [
                    ("Rust Validator, tokens validated twice", [args.rust, "mem-jwt", url, str(tokens_file)], env),
                    ("C runbeam_validator, tokens validated twice", [args.c, "mem-jwt", url, str(tokens_file)], env),
                    ("Python Validator, tokens validated twice", py + ["mem-jwt", url, str(tokens_file)], env),
                    ("Python dict of PyJWT-decoded claims", py + ["mem-pyjwt", url, str(tokens_file)], env),
                    ("Node Validator, tokens validated twice", node_gc + ["mem-jwt", url, str(tokens_file)], node_env),
                    ("Node Map of jose-verified payloads", node_gc + ["mem-jose", url, str(tokens_file)], node_env),
                    ("Rust Resolver, references resolved", [args.rust, "mem-resolve", url, str(config), str(refs)], env),
                    ("C runbeam_resolver, references resolved", [args.c, "mem-resolve", url, str(config), str(refs)], env),
                    ("Python Resolver, references resolved", py + ["mem-resolve", url, str(config), str(refs)], env),
                    ("Node Resolver, references resolved", node_gc + ["mem-resolve", url, str(config), str(refs)], node_env),
                ],
                args.memory_runs,
            )
        print(f"\nload average at the end {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    finally:
        devcloud.terminate()
        devcloud.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
