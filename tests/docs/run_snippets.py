#!/usr/bin/env python3
"""Runs every fenced code block of the given Markdown files, as cargo runs Rust's doc tests.

    python tests/docs/run_snippets.py README.md bindings/python/README.md ...
    python tests/docs/run_snippets.py --only README.md:120 README.md    (the block at that line)
    python tests/docs/run_snippets.py --list README.md                  (what would run, and how)

`make docs-test` (tests/docs/docs.mk) runs it on README.md and the two bindings' READMEs. A block
that fails fails the run, reported with its file, line and output.

The info string of a block (the text after the opening ```) says what happens to it:

    ```python            run with the interpreter running this script (the .venv one, which
                         has the debug module of `make python-build`)
    ```js                run with node, '@runbeam/sdk' resolving to bindings/node (the in-tree
                         addon of `make node-build`), 'express' and 'fastify' to bindings/node's
                         devDependencies (what a user installs next to the SDK's middleware);
                         CommonJS (.cjs) unless a line starts with `import`/`export`, then an
                         ES module (.mjs)
    ```ts                type-checked with tsc (strict, bindings/node's TypeScript), then run
    ```c                 compiled with `cc $(pkg-config --cflags --libs runbeam)` plus the run
                         path, then run (a complete program: it has a main)
    ```rust              compiled as a binary against runbeam-core (and tokio), then run
                         (a complete program: it has a main)
    ```sh                run with bash -euo pipefail (`sh in=repo`: from the repository root,
                         for commands documented as run from a clone; they must write nothing
                         there)
    ```toml / ```json    parsed (a block of data is at least well-formed)
    ```text              never run: output, formats, file layouts
    ```LANG file=NAME    not run: written to NAME in the working directory of every later
                         block of the same file (a C source and the commands that build it)
    ```LANG no-run REASON    not run; the reason is required (keep these rare and honest)

Every block that runs gets what a user completing it would have (the "honest completions"):

- a fresh runbeam-devcloud on loopback, seeded with examples/devcloud/seed.toml;
- a fresh working directory holding `gateway.toml` (examples/config/ai-analytics.toml: the
  gateway `analytics-gw-1` of team ai-analytics), `partner-gateway.toml`
  (examples/config/radiology-dept.toml, the receiving gateway), `mesh.toml`
  (tests/docs/fixtures/mesh.toml) and the files of earlier `file=` blocks;
- these environment variables:
    RUNBEAM_API_URL        the devcloud's API root, http://127.0.0.1:PORT/api
    RUNBEAM_DEVCLOUD_URL   the devcloud's URL, http://127.0.0.1:PORT (its /_dev endpoints)
    RUNBEAM_USER_TOKEN     Bob's seeded Sanctum token (team ai-analytics, may authorize
                           analytics-gw-1)
    RUNBEAM_HOME           an empty directory (the file token store's root)
    RUNBEAM_TOKEN_STORE    file (the keyring of the machine running the tests is never touched)
  and, only when the block names them:
    EXAMPLE_AUTHORIZATION  "Bearer <a user JWT of Bob>" (from /_dev/jwt), what a request brings
    EXAMPLE_MESH_TOKEN     a mesh token of analytics-gw-1 for the mesh imaging-integration and
                           https://dicom.radiology.example.com/studies (what a receiving gateway
                           is presented)
- for C: PKG_CONFIG_PATH and CMAKE_PREFIX_PATH of an installed librunbeam (RUNBEAM_DOCS_PREFIX,
  set by docs.mk when `make install` into a scratch prefix is available), else of a stand-in
  prefix over the in-tree debug build (include/ and target/<triple>/debug/).

Standard library only. Needs the builds of `make docs-test`'s prerequisites.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import tomllib
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).resolve().parent / "fixtures"
TRIPLE = os.environ.get("CARGO_BUILD_TARGET") or "x86_64-unknown-linux-gnu"
DEBUG = ROOT / "target" / TRIPLE / "debug"
DEVCLOUD = Path(os.environ.get("RUNBEAM_DEVCLOUD", DEBUG / "runbeam-devcloud"))
SEED = ROOT / "examples" / "devcloud" / "seed.toml"
NODE_PACKAGE = ROOT / "bindings" / "node"
TSC = NODE_PACKAGE / "node_modules" / ".bin" / "tsc"
SCRATCH = ROOT / "build" / "docs"

# Seeded in examples/devcloud/seed.toml.
BOB_TOKEN = "2|ai-dev-4b8e1d7c2a9f3e6b5c0d1a2b3c4d5e6f"
BOB_EMAIL = "bob@analytics.example.com"
BOB_GATEWAY = "analytics-gw-1"
MESH = "imaging-integration"
MESH_DESTINATION = "https://dicom.radiology.example.com/studies"

RUN_LANGS = {"python", "js", "ts", "c", "rust", "sh"}
DATA_LANGS = {"toml", "json"}
TIMEOUT = int(os.environ.get("DOCS_SNIPPET_TIMEOUT", "120"))


@dataclass
class Block:
    path: Path
    line: int  # 1-based line of the opening fence
    info: str
    text: str
    lang: str = ""
    file: str | None = None
    in_repo: bool = False
    no_run: str | None = None
    flags: list[str] = field(default_factory=list)

    @property
    def where(self) -> str:
        try:
            rel = self.path.relative_to(ROOT)
        except ValueError:
            rel = self.path
        return f"{rel}:{self.line}"


class Failure(Exception):
    """A block that did not do what its README says; the message carries its output."""


def parse_blocks(path: Path) -> list[Block]:
    blocks = []
    lines = path.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        m = re.match(r"^( {0,3})(`{3,}|~{3,})(.*)$", lines[i])
        if not m:
            i += 1
            continue
        indent, fence, info = m.group(1), m.group(2), m.group(3).strip()
        start = i
        body = []
        i += 1
        while i < len(lines) and not re.match(
            rf"^ {{0,3}}{re.escape(fence[0])}{{{len(fence)},}}\s*$", lines[i]
        ):
            line = lines[i]
            body.append(line[len(indent) :] if line.startswith(indent) else line.lstrip())
            i += 1
        if i == len(lines):
            raise SystemExit(f"{path}:{start + 1}: code block never closed")
        i += 1
        blocks.append(Block(path, start + 1, info, "\n".join(body) + "\n"))
    for b in blocks:
        classify(b)
    return blocks


def classify(b: Block) -> None:
    words = b.info.split()
    if not words:
        raise Failure(
            "a code block needs a language in its info string (```python, ```text, ...)"
        )
    b.lang = words[0]
    rest = words[1:]
    while rest:
        word = rest.pop(0)
        if word == "in=repo":
            b.in_repo = True
        elif word.startswith("file="):
            b.file = word[len("file=") :]
        elif word == "no-run":
            reason = " ".join(rest).lstrip("—-:(").strip()
            if len(reason.split()) < 3:
                raise Failure("`no-run` needs a reason in the info string (a few words)")
            b.no_run = reason
            rest = []
        else:
            b.flags.append(word)
    if b.flags:
        raise Failure(f"unknown word(s) in the info string: {' '.join(b.flags)}")
    if b.lang not in RUN_LANGS | DATA_LANGS | {"text", "cmake"}:
        raise Failure(
            f"unknown language '{b.lang}': use one the runner knows "
            f"({', '.join(sorted(RUN_LANGS | DATA_LANGS))}, cmake with file=, text) or no-run"
        )
    if b.in_repo and b.lang != "sh":
        raise Failure("in=repo is for sh blocks (commands run from a clone's root)")
    if b.lang == "cmake" and not b.file and not b.no_run:
        raise Failure("a cmake block is a file: give it file=CMakeLists.txt")


# ------------------------------------------------------------------------------ devcloud


class DevCloud:
    def __init__(self) -> None:
        if not DEVCLOUD.is_file():
            raise SystemExit(f"{DEVCLOUD} is missing: run `make build` (or docs.mk's prerequisites)")
        self.log = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(
            [str(DEVCLOUD), "--listen", "127.0.0.1:0", "--seed", str(SEED)],
            stdout=subprocess.PIPE,
            stderr=self.log,
            text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().strip()
        if not line.startswith("http://"):
            self.stop()
            raise SystemExit(f"runbeam-devcloud did not print its URL (got {line!r})")
        self.url = line
        self.api = f"{line}/api"

    def post(self, path: str, body: dict, token: str | None = None) -> dict:
        request = urllib.request.Request(
            self.url + path,
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json", "Accept": "application/json"}
            | ({"Authorization": f"Bearer {token}"} if token else {}),
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=30) as answer:
            return json.load(answer)

    def user_jwt(self) -> str:
        return self.post("/_dev/jwt", {"email": BOB_EMAIL})["token"]

    def mesh_token(self) -> str:
        granted = self.post(
            "/api/harmony/authorize",
            {"token": BOB_TOKEN, "gateway_code": BOB_GATEWAY},
            token=BOB_TOKEN,
        )
        machine = granted.get("machine_token") or granted["data"]["machine_token"]
        answer = self.post(
            "/api/harmony/mesh/token",
            {"mesh_id": MESH, "destination_url": MESH_DESTINATION},
            token=machine,
        )
        return answer.get("token") or answer["data"]["token"]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


# ------------------------------------------------------------------------------ C prefix


def c_prefix() -> Path:
    """An installed librunbeam (RUNBEAM_DOCS_PREFIX), or a stand-in prefix over the in-tree
    debug build laid out as `make install` lays out a prefix: include/runbeam.h,
    lib/librunbeam.so and lib/<SONAME> (links to the debug library), lib/pkgconfig/runbeam.pc,
    lib/cmake/runbeam/ (a minimal package with the installed one's runbeam::runbeam target)."""
    given = os.environ.get("RUNBEAM_DOCS_PREFIX")
    if given:
        return Path(given)
    library = DEBUG / "librunbeam.so"
    if not library.is_file():
        raise SystemExit(f"{library} is missing: run `cargo build -p runbeam-ffi`")
    version = tomllib.loads((ROOT / "Cargo.toml").read_text())["workspace"]["package"]["version"]
    readelf = subprocess.run(
        ["readelf", "-d", str(library)], capture_output=True, text=True, check=True
    ).stdout
    soname = re.search(r"Library soname: \[(.+?)\]", readelf)
    prefix = SCRATCH / "debug-prefix"
    shutil.rmtree(prefix, ignore_errors=True)
    lib = prefix / "lib"
    (lib / "pkgconfig").mkdir(parents=True)
    (lib / "cmake" / "runbeam").mkdir(parents=True)
    (prefix / "include").mkdir()
    (prefix / "include" / "runbeam.h").symlink_to(ROOT / "include" / "runbeam.h")
    for name in {"librunbeam.so", soname.group(1) if soname else "librunbeam.so"}:
        (lib / name).symlink_to(library)
    (lib / "librunbeam.a").symlink_to(DEBUG / "librunbeam.a")
    (lib / "pkgconfig" / "runbeam.pc").write_text(
        "# Stand-in for the installed runbeam.pc over the in-tree debug build (tests/docs).\n"
        f"prefix={prefix}\n"
        "libdir=${prefix}/lib\n"
        "includedir=${prefix}/include\n\n"
        "Name: runbeam\n"
        "Description: librunbeam (in-tree debug build)\n"
        f"Version: {version}\n"
        "Cflags: -I${includedir}\n"
        "Libs: -L${libdir} -lrunbeam\n"
    )
    (lib / "cmake" / "runbeam" / "runbeam-config.cmake").write_text(
        "# Stand-in for the installed CMake package over the in-tree debug build (tests/docs).\n"
        "if(NOT TARGET runbeam::runbeam)\n"
        "  add_library(runbeam::runbeam SHARED IMPORTED)\n"
        "  set_target_properties(runbeam::runbeam PROPERTIES\n"
        '    IMPORTED_LOCATION "${CMAKE_CURRENT_LIST_DIR}/../../librunbeam.so"\n'
        '    INTERFACE_INCLUDE_DIRECTORIES "${CMAKE_CURRENT_LIST_DIR}/../../../include")\n'
        "endif()\n"
    )
    (lib / "cmake" / "runbeam" / "runbeam-config-version.cmake").write_text(
        f'set(PACKAGE_VERSION "{version}")\n'
        'string(REGEX MATCH "^[0-9]+\\.[0-9]+" _have "${PACKAGE_VERSION}")\n'
        'string(REGEX MATCH "^[0-9]+\\.[0-9]+" _want "${PACKAGE_FIND_VERSION}")\n'
        "if(PACKAGE_FIND_VERSION AND NOT _have STREQUAL _want)\n"
        "  set(PACKAGE_VERSION_COMPATIBLE FALSE)\n"
        "else()\n"
        "  set(PACKAGE_VERSION_COMPATIBLE TRUE)\n"
        "endif()\n"
    )
    return prefix


# ------------------------------------------------------------------------------ runners


def run(cmd: list[str], cwd: Path, env: dict[str, str], what: str) -> str:
    try:
        done = subprocess.run(
            cmd,
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=TIMEOUT,
        )
    except subprocess.TimeoutExpired as e:
        raise Failure(f"{what}: no answer after {TIMEOUT} s\n{e.output or ''}") from None
    if done.returncode != 0:
        raise Failure(f"{what}: exit status {done.returncode}\n{done.stdout}")
    return done.stdout


# The web frameworks of the SDK's middleware (@runbeam/sdk/express, @runbeam/sdk/fastify): a user
# installs them next to the SDK; here, bindings/node's devDependencies (`make setup`).
NODE_FRAMEWORKS = ("express", "fastify")


def node_project(work: Path) -> None:
    modules = work / "node_modules" / "@runbeam"
    modules.mkdir(parents=True)
    (modules / "sdk").symlink_to(NODE_PACKAGE, target_is_directory=True)
    for name in NODE_FRAMEWORKS:
        framework = NODE_PACKAGE / "node_modules" / name
        if framework.is_dir():
            (work / "node_modules" / name).symlink_to(framework, target_is_directory=True)


def run_js(b: Block, work: Path, env: dict[str, str]) -> str:
    node_project(work)
    esm = any(re.match(r"^(import|export)\b", line) for line in b.text.splitlines())
    script = work / ("snippet.mjs" if esm else "snippet.cjs")
    script.write_text(b.text)
    return run(["node", script.name], work, env, "node")


def run_ts(b: Block, work: Path, env: dict[str, str]) -> str:
    node_project(work)
    (work / "package.json").write_text('{"type": "module"}\n')
    (work / "snippet.ts").write_text(b.text)
    (work / "tsconfig.json").write_text(
        json.dumps(
            {
                "compilerOptions": {
                    "target": "es2022",
                    "module": "nodenext",
                    "moduleResolution": "nodenext",
                    "strict": True,
                    "skipLibCheck": False,
                    "types": ["node"],
                    "typeRoots": [str(NODE_PACKAGE / "node_modules" / "@types")],
                    "outDir": "out",
                },
                "files": ["snippet.ts"],
            }
        )
    )
    out = run([str(TSC), "-p", "."], work, env, "tsc")
    return out + run(["node", "out/snippet.js"], work, env, "node")


def run_python(b: Block, work: Path, env: dict[str, str]) -> str:
    (work / "snippet.py").write_text(b.text)
    return run([sys.executable, "snippet.py"], work, env, "python")


def run_c(b: Block, work: Path, env: dict[str, str]) -> str:
    if not re.search(r"\bint\s+main\s*\(", b.text):
        raise Failure("a C block must be a complete program (with main), or file=NAME / no-run")
    (work / "snippet.c").write_text(b.text)
    flags = shlex.split(run(["pkg-config", "--cflags", "--libs", "runbeam"], work, env, "pkg-config"))
    libdir = run(["pkg-config", "--variable=libdir", "runbeam"], work, env, "pkg-config").strip()
    run(
        ["cc", "-std=c11", "-Wall", "-Wextra", "-Werror", "snippet.c", "-o", "snippet", *flags,
         f"-Wl,-rpath,{libdir}"],
        work, env, "cc",
    )
    return run(["./snippet"], work, env, "./snippet")


def run_sh(b: Block, work: Path, env: dict[str, str]) -> str:
    (work / "snippet.sh").write_text(b.text)
    cwd = ROOT if b.in_repo else work
    return run(["bash", "-euo", "pipefail", str(work / "snippet.sh")], cwd, env, "bash")


RUST_PROJECT = SCRATCH / "rust"


def rust_binary(b: Block) -> Path:
    """Builds the block as a binary of a scratch package depending on runbeam-core."""
    if not re.search(r"\bfn\s+main\s*\(", b.text):
        raise Failure("a Rust block must be a complete program (with main), or no-run")
    src = RUST_PROJECT / "src" / "bin"
    src.mkdir(parents=True, exist_ok=True)
    name = f"{re.sub(r'[^a-z0-9]+', '_', b.where.lower())}"
    (src / f"{name}.rs").write_text(b.text)
    env = dict(os.environ, CARGO_TARGET_DIR=str(ROOT / "target"), CARGO_BUILD_TARGET=TRIPLE)
    run(["cargo", "build", "--quiet", "--bin", name], RUST_PROJECT, env, "cargo build")
    return ROOT / "target" / TRIPLE / "debug" / name


def prepare_rust_project() -> None:
    RUST_PROJECT.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(RUST_PROJECT / "src", ignore_errors=True)
    (RUST_PROJECT / "Cargo.toml").write_text(
        (FIXTURES / "rust" / "Cargo.toml").read_text().replace("@ROOT@", str(ROOT))
    )
    # The workspace's lock file, so the dependencies are the versions already built.
    if not (RUST_PROJECT / "Cargo.lock").exists():
        shutil.copy(ROOT / "Cargo.lock", RUST_PROJECT / "Cargo.lock")


def run_rust(b: Block, work: Path, env: dict[str, str]) -> str:
    binary = rust_binary(b)
    return run([str(binary)], work, env, binary.name)


RUNNERS = {
    "python": run_python,
    "js": run_js,
    "ts": run_ts,
    "c": run_c,
    "rust": run_rust,
    "sh": run_sh,
}


def check_data(b: Block) -> None:
    try:
        if b.lang == "toml":
            tomllib.loads(b.text)
        else:
            json.loads(b.text)
    except ValueError as e:
        raise Failure(f"not valid {b.lang}: {e}") from None


def run_block(b: Block, files: dict[str, str], prefix: Path) -> str:
    with tempfile.TemporaryDirectory(prefix="runbeam-docs-") as tmp:
        work = Path(tmp) / "work"
        home = Path(tmp) / "home"
        work.mkdir()
        home.mkdir(mode=0o700)
        shutil.copy(ROOT / "examples" / "config" / "ai-analytics.toml", work / "gateway.toml")
        shutil.copy(
            ROOT / "examples" / "config" / "radiology-dept.toml", work / "partner-gateway.toml"
        )
        shutil.copy(FIXTURES / "mesh.toml", work / "mesh.toml")
        for name, text in files.items():
            (work / name).parent.mkdir(parents=True, exist_ok=True)
            (work / name).write_text(text)
        cloud = DevCloud()
        try:
            env = {
                k: v
                for k, v in os.environ.items()
                if not k.startswith(("RUNBEAM_", "EXAMPLE_", "NODE_OPTIONS"))
            }
            env.update(
                RUNBEAM_API_URL=cloud.api,
                RUNBEAM_DEVCLOUD_URL=cloud.url,
                RUNBEAM_USER_TOKEN=BOB_TOKEN,
                RUNBEAM_HOME=str(home),
                RUNBEAM_TOKEN_STORE="file",
                PKG_CONFIG_PATH=str(prefix / "lib" / "pkgconfig"),
                CMAKE_PREFIX_PATH=str(prefix),
                RUNBEAM_PREFIX=str(prefix),
            )
            if "EXAMPLE_AUTHORIZATION" in b.text:
                env["EXAMPLE_AUTHORIZATION"] = f"Bearer {cloud.user_jwt()}"
            if "EXAMPLE_MESH_TOKEN" in b.text:
                env["EXAMPLE_MESH_TOKEN"] = cloud.mesh_token()
            return RUNNERS[b.lang](b, work, env)
        finally:
            cloud.stop()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--only", action="append", default=[], help="FILE:LINE of one block")
    parser.add_argument("--list", action="store_true", help="list the blocks and what happens")
    parser.add_argument("-v", "--verbose", action="store_true", help="print every block's output")
    args = parser.parse_args(argv)

    failures: list[str] = []
    counts = {"ran": 0, "checked": 0, "file": 0, "text": 0, "no-run": 0}
    prefix = c_prefix()
    started = time.monotonic()
    rust_ready = False
    for path in args.files:
        path = path.resolve()
        try:
            blocks = parse_blocks(path)
        except Failure as e:
            failures.append(f"{path}: {e}")
            continue
        files: dict[str, str] = {}
        for b in blocks:
            if args.only and not any(
                (ROOT / o.rsplit(":", 1)[0]).resolve() == path and o.rsplit(":", 1)[1] == str(b.line)
                for o in args.only
            ):
                if b.file:
                    files[b.file] = b.text
                continue
            if b.file:
                files[b.file] = b.text
                kind, what = "file", f"written to {b.file} for the blocks after it"
            elif b.no_run:
                kind, what = "no-run", f"not run: {b.no_run}"
            elif b.lang in ("text", "cmake"):
                kind, what = "text", "not run (text)"
            elif b.lang in DATA_LANGS:
                kind, what = "checked", f"parsed as {b.lang}"
            else:
                kind, what = "ran", f"run ({b.lang})"
            if args.list:
                print(f"{b.where}: {b.lang}: {what}")
                counts[kind] += 1
                continue
            t0 = time.monotonic()
            try:
                if kind == "checked":
                    check_data(b)
                    output = ""
                elif kind == "ran":
                    if b.lang == "rust" and not rust_ready:
                        prepare_rust_project()
                        rust_ready = True
                    output = run_block(b, dict(files), prefix)
                else:
                    output = ""
                counts[kind] += 1
                if kind in ("ran", "checked"):
                    print(f"ok   {b.where} ({b.lang}, {time.monotonic() - t0:.1f} s)", flush=True)
                    if args.verbose and output:
                        print(indent(output))
            except Failure as e:
                message = f"FAIL {b.where} ({b.lang}): {e}"
                print(message.rstrip() + "\n", flush=True)
                failures.append(f"{b.where} ({b.lang})")
    summary = ", ".join(f"{v} {k}" for k, v in counts.items())
    if args.list:
        print(summary)
        return 0
    print(f"\ndocs-test: {summary}; {len(failures)} failed; {time.monotonic() - started:.0f} s")
    for f in failures:
        print(f"  failed: {f}")
    return 1 if failures else 0


def indent(text: str) -> str:
    return "\n".join("     | " + line for line in text.rstrip().splitlines())


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
