#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets into fuzz/seeds/<target>/ from the project's own
test fixtures (tests/fixtures/, the sample bodies of the property tests, the devcloud seed's
key set). Run from anywhere: `python3 fuzz/make_seeds.py`. Idempotent; the seeds are checked in.
"""
import base64
import json
import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parent.parent
SEEDS = ROOT / "fuzz" / "seeds"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def write(target: str, name: str, data: bytes) -> None:
    folder = SEEDS / target
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(data)


def jwt(header: dict, claims: dict, sig: bytes = b"signature") -> str:
    return ".".join([b64(json.dumps(header).encode()), b64(json.dumps(claims).encode()), b64(sig)])


ISS = "https://api.fuzz.example/api"
CLAIMS = {
    "iss": ISS, "sub": "user-1", "aud": ["fuzz-gw", "mesh:m1"], "exp": 4102444800, "iat": 1700000000,
    "nbf": 1700000000, "mesh_id": "m1", "dest_url": "https://dicom.example.com/s",
    "user": {"id": 1, "email": "a@b.example", "name": "A"}, "team": {"id": "t1", "name": "T"},
}
HEADERS = [
    {"alg": "EdDSA", "kid": "fuzz", "typ": "JWT"},
    {"alg": "RS256", "kid": "fuzz"},
    {"alg": "a\u20acb", "kid": "fuzz"},
    {"alg": "HS256", "kid": "fuzz"},
    {"alg": "none"},
    {"alg": "EdDSA", "kid": "fuzz", "crit": ["x"]},
]

# jwt_validate: mode byte 1 (odd) = header 0xFF payload, signed by the harness; 0 = raw text.
for i, header in enumerate(HEADERS):
    write("jwt_validate", f"signed-{i}", b"\x01" + json.dumps(header).encode() + b"\xff" + json.dumps(CLAIMS).encode())
    write("jwt_validate", f"raw-{i}", b"\x00" + jwt(header, CLAIMS).encode())
write("jwt_validate", "signed-array-header", b"\x01" + b'["EdDSA","fuzz"]\xff' + json.dumps(CLAIMS).encode())
write("jwt_validate", "signed-array-claims", b"\x01" + json.dumps(HEADERS[0]).encode() + b'\xff["x",1]')
write("jwt_validate", "signed-expired", b"\x01" + json.dumps(HEADERS[0]).encode() + b"\xff" + json.dumps({**CLAIMS, "exp": 1}).encode())
write("jwt_validate", "signed-dup", b"\x01" + json.dumps(HEADERS[0]).encode() + b'\xff{"exp":4102444800,"exp":1,"iss":"' + ISS.encode() + b'"}')

# jwt_scan: the same bytes are read as a base64url segment, as claims and as a JOSE header.
for i, header in enumerate(HEADERS):
    write("jwt_scan", f"header-{i}", json.dumps(header).encode())
    write("jwt_scan", f"header-b64-{i}", b64(json.dumps(header).encode()).encode())
write("jwt_scan", "claims", json.dumps(CLAIMS).encode())
write("jwt_scan", "claims-b64", b64(json.dumps(CLAIMS).encode()).encode())
write("jwt_scan", "claims-escaped", json.dumps({**CLAIMS, "sub": "a\"b\u00e9\\"}).encode())
write("jwt_scan", "claims-dup", b'{"exp":4102444800,"exp":1,"iss":"' + ISS.encode() + b'"}')
write("jwt_scan", "claims-nested", json.dumps({**CLAIMS, "aud": "one", "extra": [{"a": [1, 2.5e3, None, True]}]}).encode())
write("jwt_scan", "b64-tail", b"eyJhbGciOiJFZERTQSJ9x")

# bearer: header values.
token = jwt(HEADERS[0], CLAIMS)
for i, value in enumerate([f"Bearer {token}", f"bearer\t{token}", "Basic dXNlcjpwdw==", f"Bearer {token}, x", "Bearer", f"  BEARER  {token}  "]):
    write("bearer", f"header-{i}", value.encode())

# edge_request: byte 0 picks the base (0-5: runbeam_core::fuzzing::EDGE_BASES, 6-7: the base is
# the input up to its first 0xFF byte), then the request path (also read as an Authorization
# header, and its first bytes as a Retry-After).
EDGE = [
    (0, b"/studies?modality=CT&limit=10"),
    (1, b"/studies/1.2.840.113619.2.55.3/series"),
    (0, b"/a%2f..%2f..%2fadmin"),
    (1, b"/..;/admin"),
    (2, b"/%252e%252e/%25%32%65"),
    (3, b"/.//evil.test/x"),
    (4, b"/a/./b/../../../c?x=/../y"),
    (5, b"/%2e%2e/%2E./x"),
    (3, b"/caf\xc3\xa9/\xef\xbc\x8e\xef\xbc\x8e/@evil.test:8080/x"),
    (0, b"Bearer " + token.encode()),
    (6, b"http://user:s3cret@h.example/x\xff/a"),
    (7, b"HTTP://[::1]:80/wado//\xff/../studies?q"),
    (6, b"https://h\\evil.test/\xff/x%zz"),
    # A path that is the text of a refusal's message (the message must not be taken for a quote).
    (0, b"path must start with a single '/"),
]
for i, (mode, body) in enumerate(EDGE):
    write("edge_request", f"request-{i}", bytes([mode]) + body)

# jwks and api_response: the sample bodies of runbeam-core/src/fuzzing/properties.rs.
props = (ROOT / "runbeam-core/src/fuzzing/properties.rs").read_text()
rsa = re.search(r'"kty": "RSA", "kid": "([^"]+)", "use": "sig", "alg": "RS256", "e": "AQAB", "n": "([^"]+)"', props)
jwks = {"keys": [
    {"kty": "RSA", "kid": rsa.group(1), "use": "sig", "alg": "RS256", "e": "AQAB", "n": rsa.group(2)},
    {"kty": "EC", "kid": "ec-1", "crv": "P-256", "x": "MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4", "y": "4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM"},
    {"kty": "OKP", "kid": "ed-1", "crv": "Ed25519", "x": b64(b"\x11" * 32)},
    {"kty": "RSA", "kid": "bad-alg", "alg": "a\u20acb", "e": "AQAB", "n": rsa.group(2)},
]}
write("jwks", "sample", json.dumps(jwks).encode())
write("jwks", "array", json.dumps([jwks]).encode())
bodies = re.search(r"const SAMPLE_RESPONSES: \[&str; \d+\] = \[(.*?)\];", props, re.S).group(1)
samples = re.findall(r'r#"(.*?)"#|"(.*?)",', bodies)
for kind, (raw, plain) in enumerate(samples):
    body = raw or (json.dumps(jwks) if plain == "" else plain)
    write("api_response", f"kind-{kind}", bytes([kind]) + body.encode())

# token_file: 0 = the encrypted file, 1/2 = the JSON inside, 3 = the key file.
compat = ROOT / "tests/fixtures/storage/librunbeam-0.1/compat-gw"
sdk = ROOT / "tests/fixtures/storage/sdk-0.11/sdk-gw"
write("token_file", "file-machine", b"\x00" + (compat / "runbeam/machine_token.json").read_bytes())
write("token_file", "file-user", b"\x00" + (compat / "runbeam/user_token.json").read_bytes())
write("token_file", "sdk-machine", b"\x00" + (sdk / "runbeam/auth.json").read_bytes())
write("token_file", "sdk-user", b"\x00" + (sdk / "runbeam/user_auth.json").read_bytes())
token_json = json.dumps({"machine_token": "mt_fuzz", "expires_at": "2030-01-01T00:00:00Z", "gateway_id": "gw-1", "abilities": ["harmony:send"], "issued_at": "2026-01-01 00:00:00"}).encode()
write("token_file", "json-file", b"\x01" + token_json)
write("token_file", "json-memory", b"\x02" + token_json)
write("token_file", "key", b"\x03" + (compat / "encryption.key").read_bytes())
# change_apply: changes of the feed as devcloud records them (runbeam-devcloud/src/model.rs).
mesh_toml = '[mesh.imaging-integration]\ntype = "http3"\nprovider = "runbeam"\negress = ["imaging-out"]\n'
changes = {
    "mesh-updated": {"id": "01JCHANGE1", "status": "pending", "type": "mesh", "action": "updated", "config": mesh_toml},
    "mesh-created": {"id": 2, "type": "mesh", "action": "created", "config": mesh_toml.replace("imaging-integration", "new")},
    "mesh-deleted": {"id": "3", "type": "mesh", "action": "deleted", "name": "imaging-integration"},
    "mesh-foreign": {"id": "4", "type": "mesh", "action": "updated", "config": mesh_toml.replace("runbeam", "partner")},
    "ingress-updated": {"id": "5", "type": "ingress", "action": "updated", "resource_id": "01JDW14DR9GPQY77ZXYYK596NG"},
    "pipeline": {"id": "6", "type": "pipeline", "action": "created", "resource_id": "p"},
    "config-number": {"id": "7", "type": "mesh", "action": "updated", "config": 42},
}
for name, change in changes.items():
    write("change_apply", name, json.dumps(change).encode())
# dbus_message: what the Secret Service client reads from the session bus (little-endian, as the
# daemons write; one big-endian).
def dbus(kind: int, fields: list, sig: str, body: bytes, serial: int = 2, order: str = "<") -> bytes:
    import struct
    def pad(b: bytes, n: int) -> bytes:
        return b + b"\0" * (-len(b) % n)
    head = b""
    for code, fsig, value in fields:
        head = pad(head, 8) + bytes([code, len(fsig)]) + fsig.encode() + b"\0"
        if fsig in ("s", "o"):
            head = pad(head, 4) + struct.pack(order + "I", len(value)) + value.encode() + b"\0"
        elif fsig == "g":
            head += bytes([len(value)]) + value.encode() + b"\0"
        else:
            head = pad(head, 4) + struct.pack(order + "I", value)
    if sig:
        head = pad(head, 8) + bytes([8, 1]) + b"g\0" + bytes([len(sig)]) + sig.encode() + b"\0"
    endian = b"l" if order == "<" else b"B"
    fixed = endian + bytes([kind, 0, 1]) + struct.pack(order + "III", len(body), serial, len(head))
    return pad(fixed + head, 8) + body


def dstr(s: str, order: str = "<") -> bytes:
    import struct
    return struct.pack(order + "I", len(s)) + s.encode() + b"\0"


def dpad(b: bytes, n: int) -> bytes:
    return b + b"\0" * (-len(b) % n)


session = "/org/freedesktop/secrets/session/s1"
secret = dpad(dpad(dstr(session), 4) + bytes([16, 0, 0, 0]) + bytes(range(16)), 4)
secret = dpad(secret + bytes([32, 0, 0, 0]) + bytes(32), 4) + dstr("application/octet-stream")
write("dbus_message", "get-secret", dbus(2, [(5, "u", 1)], "(oayays)", secret))
paths = dpad(dstr("/org/freedesktop/secrets/collection/login/1"), 4) + dstr("/c")
search = dpad(len(paths).to_bytes(4, "little") + paths, 4) + bytes(4)
write("dbus_message", "search-items", dbus(2, [(5, "u", 3)], "aoao", search))
write("dbus_message", "open-session", dbus(2, [(5, "u", 1)], "vo", b"\x02ay\0" + (128).to_bytes(4, "little") + bytes(range(128)) + dstr(session)))
write("dbus_message", "error", dbus(3, [(5, "u", 4), (4, "s", "org.freedesktop.Secret.Error.IsLocked")], "s", dstr("Cannot get secret of a locked object")))
completed = dbus(4, [(1, "o", "/org/freedesktop/secrets/prompt/p1"), (2, "s", "org.freedesktop.Secret.Prompt"), (3, "s", "Completed")], "bv", b"\0\0\0\0\x01b\0\0" + bytes(4))
write("dbus_message", "prompt-completed", completed)
write("dbus_message", "big-endian", dbus(2, [(5, "u", 9)], "s", dstr("hi", ">"), order=">"))

print(f"seeds written under {SEEDS.relative_to(ROOT)}")
