# Sourced (not run) by examples/demo.sh: part three of the demo, real HTTP requests across the
# mesh on loopback. Uses `run`'s `failures` counter of demo.sh.
#
#   traffic CLOUD_URL DIR   radiology-dept's C gateway (libmicrohttpd) serves /studies behind
#                           mesh-token verification and registers its address as the URL of its
#                           ingress `dicomweb`; ai-analytics' gateways in Python (Starlette +
#                           uvicorn, watching for configuration changes), Node (Express) and C
#                           (libmicrohttpd + libcurl) check the user's JWT, resolve the reference,
#                           attach a mesh token and forward. curl is the client: the studies come
#                           back through each gateway, the refusals are the HTTP answers a client
#                           expects, and a change published in Runbeam Cloud reaches the watching
#                           gateway. DIR holds the gateways' homes and logs.
#   traffic_stop            stops every gateway started (for an EXIT trap; safe when none was).

ALICE_SANCTUM='1|rad-dev-7f3c9a2e5b14d6a8c0e1f2a3b4c5d6e7'   # team radiology-dept
BOB_SANCTUM='2|ai-dev-4b8e1d7c2a9f3e6b5c0d1a2b3c4d5e6f'     # team ai-analytics
BOB_EMAIL=bob@analytics.example.com
DICOMWEB_INGRESS_ID=01JDW14DR9GPQY77ZXYYK596NG
# The mesh is named imaging-integration in both example configurations (no `id` key), so its
# tokens carry aud "mesh:imaging-integration" and mesh_id "imaging-integration".
OTHER_MESH_ID=01JDWZZZZZZZZZZZZZZZZZZZZZ                    # a mesh this gateway is not in
TRAFFIC_PIDS=()
TRAFFIC_LOGS=()

traffic_stop() {
  local pid
  for pid in "${TRAFFIC_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null; done
  for pid in "${TRAFFIC_PIDS[@]}"; do wait "$pid" 2>/dev/null; done
  TRAFFIC_PIDS=()
  return 0
}

traffic_fail() {
  echo "!! $*" >&2
  failures=$((failures + 1))
}

# gateway_up NAME DIR SANCTUM COMMAND...: starts a gateway with its own RUNBEAM_HOME, waits for
# its `listening URL` line; sets GATEWAY_URL.
gateway_up() {
  local name=$1 dir=$2 sanctum=$3
  shift 3
  mkdir -p "$dir/home"
  RUNBEAM_HOME="$dir/home" RUNBEAM_SANCTUM_TOKEN="$sanctum" "$@" >"$dir/out.log" 2>"$dir/err.log" &
  local pid=$!
  TRAFFIC_PIDS+=("$pid")
  TRAFFIC_LOGS+=("$name=$dir")
  GATEWAY_URL=
  for _ in $(seq 1 300); do
    GATEWAY_URL=$(sed -n 's|^listening \(http://127\.0\.0\.1:[0-9]*\)$|\1|p' "$dir/out.log" | head -n 1)
    if [ -n "$GATEWAY_URL" ]; then
      echo "    $name: $GATEWAY_URL"
      return 0
    fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  traffic_fail "$name did not start: $*"
  cat "$dir/out.log" "$dir/err.log" >&2
  return 1
}

# mint JSON: a JWT signed by the devcloud's key (POST /_dev/jwt), printed.
mint() {
  curl -sf -m 10 -X POST -H 'content-type: application/json' -d "$1" "$CLOUD/_dev/jwt" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["token"])'
}

# expect STATUS WHAT CURL-ARGS...: one request. Checks the status, and the headers a client
# relies on: WWW-Authenticate on a 401, Retry-After on a 503, no token in any body.
expect() {
  local want=$1 what=$2
  shift 2
  local head body got note=""
  head=$(mktemp)
  body=$(mktemp)
  got=$(curl -s -m 20 -D "$head" -o "$body" -w '%{http_code}' "$@")
  case $got in
    200) note=$(python3 - "$body" <<'PY'
import json, sys
try:
    data = json.load(open(sys.argv[1]))
    studies = data if isinstance(data, list) else [data]
    uids = [s["0020000D"]["Value"][0] for s in studies]
    print(f"{len(uids)} stud{'y' if len(uids) == 1 else 'ies'}: {', '.join(uids)}")
except Exception as e:  # the check below reports the body
    print(f"unexpected body ({e.__class__.__name__})")
PY
) ;;
    401) note=$(grep -i '^www-authenticate:' "$head" | tr -d '\r') ;;
    503) note=$(grep -i '^retry-after:' "$head" | tr -d '\r') ;;
    *) note=$(head -c 200 "$body") ;;
  esac
  printf '    %s %-58s %s\n' "$got" "$what" "$note"
  if [ "$got" != "$want" ]; then
    traffic_fail "expected $want, got $got: $what"
    head -c 500 "$body" >&2
    echo >&2
  elif [ "$got" = 401 ] && ! grep -qi '^www-authenticate: Bearer error="invalid_token"' "$head"; then
    traffic_fail "401 without WWW-Authenticate: Bearer error=\"invalid_token\": $what"
  elif [ "$got" = 200 ] && [[ $note == unexpected* ]]; then
    traffic_fail "200 without studies: $what"
  elif grep -q 'eyJ' "$body"; then
    traffic_fail "a token in the response body: $what"
  fi
  rm -f "$head" "$body"
}

# publish_mesh TOML: a change of ai-analytics' mesh in Runbeam Cloud (POST /_dev/changes).
publish_mesh() {
  local body
  body=$(python3 -c 'import json, sys; print(json.dumps({"gateway_code": "analytics-gw-1",
    "type": "mesh", "action": "updated", "config": sys.argv[1]}))' "$1")
  curl -sf -m 10 -X POST -H 'content-type: application/json' -d "$body" "$CLOUD/_dev/changes" >/dev/null ||
    traffic_fail "could not publish the change"
}

# until_status STATUS URL JWT: polls URL (every 0.25 s, at most 30 s) until it answers STATUS;
# prints how long it took.
until_status() {
  local want=$1 target=$2 jwt=$3 start got
  start=$(date +%s%N)
  for _ in $(seq 1 120); do
    got=$(curl -s -m 5 -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $jwt" "$target")
    if [ "$got" = "$want" ]; then
      local tenths=$((($(date +%s%N) - start) / 100000000))
      echo "    the change reached the gateway: $((tenths / 10)).$((tenths % 10)) s"
      return 0
    fi
    sleep 0.25
  done
  traffic_fail "$target never answered $want (last: $got)"
}

traffic() {
  CLOUD=$1
  local dir=$2 rad py node c uid jwt expired other_mesh other_dest genuine gw name
  local mesh_toml='[mesh.imaging-integration]
type = "http3"
provider = "runbeam"
egress = ["imaging-out", "runbeam.radiology-dept.ingress.name.dicomweb"]'
  echo "=================================================================== real traffic across the mesh"
  echo "--- radiology-dept: the C gateway serves /studies to mesh partners"
  gateway_up "C gateway of radiology-dept" "$dir/radiology-c" "$ALICE_SANCTUM" \
    build/c/mesh_gateway ingress examples/config/radiology-dept.toml "$CLOUD" || return 0
  rad=$GATEWAY_URL
  echo "--- radiology-dept registers that address as the URL of its ingress dicomweb in Runbeam Cloud"
  curl -sf -m 10 -X PATCH -H "Authorization: Bearer $ALICE_SANCTUM" -H 'content-type: application/json' \
    -d "{\"urls\": [\"$rad\"], \"protocol\": \"http\"}" "$CLOUD/api/ingresses/$DICOMWEB_INGRESS_ID" >/dev/null ||
    traffic_fail "PATCH of the ingress URL failed"
  echo "--- ai-analytics: three gateways reach it through the mesh"
  gateway_up "Python gateway of ai-analytics" "$dir/analytics-python" "$BOB_SANCTUM" \
    .venv/bin/python examples/python/mesh_gateway.py examples/config/ai-analytics.toml "$CLOUD" --watch || return 0
  py=$GATEWAY_URL
  gateway_up "Node gateway of ai-analytics" "$dir/analytics-node" "$BOB_SANCTUM" \
    node examples/node/mesh_gateway.mjs examples/config/ai-analytics.toml "$CLOUD" || return 0
  node=$GATEWAY_URL
  gateway_up "C gateway of ai-analytics" "$dir/analytics-c" "$BOB_SANCTUM" \
    build/c/mesh_gateway egress examples/config/ai-analytics.toml "$CLOUD" || return 0
  c=$GATEWAY_URL

  jwt=$(mint "{\"email\": \"$BOB_EMAIL\"}")
  expired=$(mint "{\"email\": \"$BOB_EMAIL\", \"ttl_secs\": -120}")
  uid=$(curl -s -m 20 -H "Authorization: Bearer $jwt" "$py/imaging/studies" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)[0]["0020000D"]["Value"][0])' 2>/dev/null)
  for gw in "Python=$py" "Node=$node" "C=$c"; do
    name=${gw%%=*}
    echo "--- client -> $name gateway of ai-analytics -> C gateway of radiology-dept"
    expect 200 "GET /imaging/studies, Bob's JWT" -H "Authorization: Bearer $jwt" "${gw#*=}/imaging/studies"
    expect 200 "GET /imaging/studies/<uid>, Bob's JWT" -H "Authorization: Bearer $jwt" \
      "${gw#*=}/imaging/studies/$uid"
    expect 401 "no token" "${gw#*=}/imaging/studies"
    expect 401 "an expired token" -H "Authorization: Bearer $expired" "${gw#*=}/imaging/studies"
    expect 401 "not a JWT" -H "Authorization: Bearer not.a.jwt" "${gw#*=}/imaging/studies"
    expect 403 "GET /pacs/studies: pacs is outside ai-analytics' mesh" \
      -H "Authorization: Bearer $jwt" "${gw#*=}/pacs/studies"
  done

  echo "--- straight at radiology-dept's gateway, without going through a partner gateway"
  genuine=$(mint "{\"email\": \"$BOB_EMAIL\", \"claims\": {\"aud\": \"mesh:imaging-integration\", \"mesh_id\": \"imaging-integration\", \"dest_url\": \"$rad\"}}")
  other_mesh=$(mint "{\"email\": \"$BOB_EMAIL\", \"claims\": {\"aud\": \"mesh:$OTHER_MESH_ID\", \"mesh_id\": \"$OTHER_MESH_ID\", \"dest_url\": \"$rad\"}}")
  other_dest=$(mint "{\"email\": \"$BOB_EMAIL\", \"claims\": {\"aud\": \"mesh:imaging-integration\", \"mesh_id\": \"imaging-integration\", \"dest_url\": \"https://elsewhere.example.com\"}}")
  expect 200 "a Cloud-signed mesh token for this mesh and address" -H "Authorization: Bearer $genuine" "$rad/studies"
  expect 401 "no mesh token" "$rad/studies"
  expect 401 "Bob's user JWT instead of a mesh token" -H "Authorization: Bearer $jwt" "$rad/studies"
  expect 401 "a mesh token for another mesh" -H "Authorization: Bearer $other_mesh" "$rad/studies"
  expect 401 "a mesh token for another destination" -H "Authorization: Bearer $other_dest" "$rad/studies"

  echo "--- Runbeam Cloud: dicomweb leaves ai-analytics' mesh (a change for analytics-gw-1)"
  publish_mesh '[mesh.imaging-integration]
type = "http3"
provider = "runbeam"
egress = ["imaging-out"]'
  until_status 403 "$py/imaging/studies" "$jwt"
  expect 403 "GET /imaging/studies through the watching Python gateway" -H "Authorization: Bearer $jwt" "$py/imaging/studies"
  echo "--- Runbeam Cloud: dicomweb is back"
  publish_mesh "$mesh_toml"
  until_status 200 "$py/imaging/studies" "$jwt"
  expect 200 "GET /imaging/studies through the watching Python gateway" -H "Authorization: Bearer $jwt" "$py/imaging/studies"

  traffic_stop
  local entry
  for entry in "${TRAFFIC_LOGS[@]}"; do
    echo "--- what the ${entry%%=*} printed"
    sed 's/^/    /' "${entry#*=}/out.log"
  done
  echo
}
