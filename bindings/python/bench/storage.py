"""Token storage from Python: save + load of one machine token, with a peer, same run.

    make python-bench      (release module; or: python bindings/python/bench/storage.py)
    python bindings/python/bench/storage.py [--rounds N] [--ops N] [--disk DIR] [--tmpfs DIR]

Rows (microseconds per save + load, median of the rounds; rows interleaved within each round
so that machine noise hits them alike):

- memory: ``MemoryTokenStore`` — the binding's call overhead and the token's (de)serialization.
- file: ``FileTokenStore`` (age X25519 encryption, advisory lock, temp file + fsync + rename +
  directory fsync, then a locked read and decryption), on a disk directory (``--disk``,
  default the temp dir) and on tmpfs (``--tmpfs``, default /dev/shm).
- peer: the same durable replace and read back written in plain Python, of the same number of
  bytes as our age file, in the same directory: ``os.open(O_CREAT|O_EXCL, 0o600)``,
  ``os.write``, ``os.fsync``, ``os.replace``, ``os.fsync`` of the directory, then ``open``
  and ``read``. It encrypts nothing: it is the floor of any crash-safe file store.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Callable, Dict, List

import runbeam

INSTANCE = "bench"


def token() -> runbeam.MachineToken:
    return runbeam.MachineToken(
        machine_token="mt_" + "x" * 64,
        expires_at="2099-01-01T00:00:00Z",
        gateway_id="01JBENCHGATEWAY0000000000",
        abilities=["harmony:read", "harmony:write", "mesh:token"],
        issued_at="2026-11-25T00:00:00Z",
    )


def store_round_trip(store: runbeam.TokenStore) -> Callable[[], None]:
    t = token()

    def op() -> None:
        store.save_machine_token(INSTANCE, t)
        back = store.load_machine_token(INSTANCE)
        assert back is not None and back.gateway_id == t.gateway_id

    return op


def peer_round_trip(directory: Path, size: int) -> Callable[[], None]:
    directory.mkdir(parents=True, exist_ok=True)
    data = b"x" * size
    temp, target = str(directory / "peer.tmp"), str(directory / "peer")
    dir_fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)

    def op() -> None:
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temp, target)
        os.fsync(dir_fd)
        with open(target, "rb") as f:
            back = f.read()
        assert len(back) == size

    return op


def per_op_us(op: Callable[[], None], ops: int) -> float:
    start = time.perf_counter()
    for _ in range(ops):
        op()
    return (time.perf_counter() - start) * 1e6 / ops


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--ops", type=int, default=100, help="file operations per round and row")
    parser.add_argument("--disk", default=tempfile.gettempdir())
    parser.add_argument("--tmpfs", default="/dev/shm")
    args = parser.parse_args()

    rows: Dict[str, Callable[[], None]] = {}
    ops: Dict[str, int] = {}
    cleanup: List[Path] = []
    rows["memory"] = store_round_trip(runbeam.MemoryTokenStore())
    ops["memory"] = args.ops * 20
    for label, base in (("disk", args.disk), ("tmpfs", args.tmpfs)):
        if not os.path.isdir(base):
            print(f"  {label}: {base} does not exist, skipped")
            continue
        root = Path(tempfile.mkdtemp(prefix="runbeam-bench-py-storage-", dir=base))
        cleanup.append(root)
        store = runbeam.FileTokenStore(root / "home")
        rows[f"file, {label}"] = store_round_trip(store)
        rows[f"file, {label}"]()  # creates the key; sizes the peer
        size = os.path.getsize(store.location(INSTANCE, "machine_token"))
        rows[f"peer, {label}"] = peer_round_trip(root / "peer", size)
        ops[f"file, {label}"] = ops[f"peer, {label}"] = args.ops
    samples: Dict[str, List[float]] = {name: [] for name in rows}
    try:
        for op in rows.values():
            op()  # warm-up
        for _ in range(args.rounds):
            for name, op in rows.items():
                samples[name].append(per_op_us(op, ops[name]))
    finally:
        for root in cleanup:
            shutil.rmtree(root, ignore_errors=True)

    median = {name: statistics.median(values) for name, values in samples.items()}
    print(
        f"storage/python (runbeam {runbeam.__version__}): save + load of one machine token, "
        f"median of {args.rounds} rounds, µs"
    )
    print(f"  {'row':<14} {'µs':>10}  ops/round")
    for name in rows:
        extra = ""
        if name.startswith("file, "):
            peer = median[name.replace("file", "peer")]
            extra = f"   (ours / peer: {median[name] / peer:.2f}x)"
        print(f"  {name:<14} {median[name]:10.1f}  {ops[name]}{extra}")
    print(f"  in: disk {args.disk}, tmpfs {args.tmpfs}")


if __name__ == "__main__":
    main()
