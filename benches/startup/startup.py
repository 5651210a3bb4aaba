# One cold start or one memory measurement of the Python binding (and of its peers), run by
# benches/startup/run.py as `python -c "<this file>" MODE ARGS...` in a fresh process.
#
# Cold start (prints one JSON line of CLOCK_REALTIME nanoseconds; run.py subtracts the time it
# took just before exec):
#   jwt URL TOKEN          import runbeam | Validator(...) | refresh_keys() (JWKS fetch + key
#                          parse) | validate(TOKEN)
#   pyjwt URL TOKEN        import jwt | PyJWKClient(...) | get_signing_key_from_jwt (JWKS fetch,
#                          key parse) | jwt.decode
#   resolve URL CONFIG REF import runbeam | MeshConfig, Client, TokenManager, Resolver |
#                          ensure_token() (authorize) | resolve(REF)
#   floor                  the first line of a bare interpreter
# Memory (prints one JSON line: VmRSS before/after in bytes, entries):
#   mem-jwt URL TOKENS_FILE          10,000 distinct tokens, each validated twice (kept by the
#                                    verified-token cache, capacity 20,000)
#   mem-pyjwt URL TOKENS_FILE        a dict token -> PyJWT-decoded claims of the same tokens
#   mem-resolve URL CONFIG REFS_FILE every reference resolved once (cached by the resolver)
import time

T_START = time.time_ns()
import gc  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402


def rss() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


def settled_rss() -> int:
    gc.collect()
    return rss()


def emit(**figures) -> None:
    print(json.dumps(figures), flush=True)


def main(argv: list[str]) -> None:
    mode = argv[0]
    if mode == "floor":
        emit(start=T_START)
    elif mode == "jwt":
        url, token = argv[1], argv[2]
        import runbeam

        t_load = time.time_ns()
        v = runbeam.Validator(trusted_issuers=[url + "/api"])
        t_construct = time.time_ns()
        v.refresh_keys()
        t_fetch = time.time_ns()
        claims = v.validate(token)
        t_first = time.time_ns()
        assert claims.sub
        emit(start=T_START, load=t_load, construct=t_construct, fetch=t_fetch, first=t_first)
    elif mode == "pyjwt":
        url, token = argv[1], argv[2]
        import jwt

        t_load = time.time_ns()
        client = jwt.PyJWKClient(url + "/api/.well-known/jwks.json")
        t_construct = time.time_ns()
        key = client.get_signing_key_from_jwt(token)
        t_fetch = time.time_ns()
        claims = jwt.decode(token, key.key, algorithms=["RS256"], issuer=url + "/api")
        t_first = time.time_ns()
        assert claims["sub"]
        emit(start=T_START, load=t_load, construct=t_construct, fetch=t_fetch, first=t_first)
    elif mode == "resolve":
        url, config_path, reference = argv[1], argv[2], argv[3]
        import runbeam

        t_load = time.time_ns()
        resolver, manager = new_resolver(runbeam, url, config_path)
        t_construct = time.time_ns()
        manager.ensure_token()
        t_fetch = time.time_ns()
        answer = resolver.resolve(reference)
        t_first = time.time_ns()
        assert answer.resource.urls
        emit(start=T_START, load=t_load, construct=t_construct, fetch=t_fetch, first=t_first)
    elif mode == "mem-jwt":
        url, tokens = argv[1], read_lines(argv[2])
        import runbeam

        v = runbeam.Validator(trusted_issuers=[url + "/api"], cache_capacity=20_000)
        v.refresh_keys()
        v.validate(tokens[0])
        v.validate(tokens[0])
        before = settled_rss()
        for t in tokens:
            v.validate(t)
            v.validate(t)
        after = settled_rss()
        emit(before=before, after=after, entries=v.cached_tokens)
    elif mode == "mem-pyjwt":
        url, tokens = argv[1], read_lines(argv[2])
        import jwt

        key = jwt.PyJWKClient(url + "/api/.well-known/jwks.json").get_signing_key_from_jwt(
            tokens[0]
        )
        kept = {}
        jwt.decode(tokens[0], key.key, algorithms=["RS256"], issuer=url + "/api")
        before = settled_rss()
        for t in tokens:
            kept[t] = jwt.decode(t, key.key, algorithms=["RS256"], issuer=url + "/api")
        after = settled_rss()
        emit(before=before, after=after, entries=len(kept))
    elif mode == "mem-resolve":
        url, config_path, references = argv[1], argv[2], read_lines(argv[3])
        import runbeam

        resolver, _ = new_resolver(runbeam, url, config_path)
        resolver.resolve(references[0])
        before = settled_rss()
        for r in references:
            resolver.resolve(r)
        after = settled_rss()
        stats = resolver.stats()
        emit(before=before, after=after, entries=len(references),
             upstream_requests=stats.upstream_requests)
    else:
        raise SystemExit(f"unknown mode {mode}")


def new_resolver(runbeam, url: str, config_path: str):
    """The gateway's resolver and token manager: its configuration pointed at `url`, an HTTP
    client, Bob's Sanctum token as the credential, the machine token in a memory store."""
    with open(config_path) as f:
        config = runbeam.MeshConfig.from_toml(f.read()).with_provider_api("runbeam", url)
    cloud = runbeam.Client(url)
    manager = runbeam.TokenManager(
        "analytics-gw-1",
        runbeam.MemoryTokenStore(),
        cloud,
        credential="2|ai-dev-4b8e1d7c2a9f3e6b5c0d1a2b3c4d5e6f",
    )
    return runbeam.Resolver(config, cloud, manager), manager


def read_lines(path: str) -> list[str]:
    with open(path) as f:
        return [line.strip() for line in f if line.strip()]


main(sys.argv[1:])
