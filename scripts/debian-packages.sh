#!/usr/bin/env bash
# The Debian packages of scripts/debian-packages.txt:
#   ensure [PACKAGE...]   installs those not installed yet (all listed packages when none is named); does
#                         nothing, not even `apt-get update`, when every one is there. Idempotent.
#   remove                removes the packages of kind `suite` (the cold-state procedure; needs root).
#   list [suite|base]     prints the listed package names.
# Exits non-zero with a message naming the packages when it cannot install or remove them.
set -euo pipefail
LIST="$(dirname "$0")/debian-packages.txt"

log() { echo "[debian-packages] $*"; }
fail() { echo "[debian-packages] $*" >&2; exit 1; }

listed() { # [kind]: the package names of that kind (all when empty), in file order
  awk -v kind="${1:-}" '!/^[[:space:]]*(#|$)/ && (kind == "" || $2 == kind) { print $1 }' "$LIST"
}

installed() { [ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null)" = installed ]; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"
  elif command -v sudo >/dev/null; then sudo "$@"
  else fail "root is needed to run: $* (run it as root, or install sudo)"; fi
}

apt() { as_root env DEBIAN_FRONTEND=noninteractive apt-get -qq -o=Dpkg::Use-Pty=0 "$@"; }

ensure() {
  local wanted=("$@") missing=() name
  [ ${#wanted[@]} -gt 0 ] || mapfile -t wanted < <(listed)
  for name in "${wanted[@]}"; do
    listed | grep -qxF "$name" || fail "$name is not in $LIST: add it there with its kind and reason"
  done
  if ! command -v dpkg-query >/dev/null; then
    log "not a Debian system: make sure these are installed: ${wanted[*]}"
    return 0
  fi
  for name in "${wanted[@]}"; do installed "$name" || missing+=("$name"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  command -v apt-get >/dev/null || fail "missing ${missing[*]} and there is no apt-get: install them by hand"
  log "installing ${missing[*]}"
  apt update || fail "apt-get update failed: the Debian mirrors must be reachable to install ${missing[*]}"
  apt install -y --no-install-recommends "${missing[@]}" >/dev/null || fail "apt-get install ${missing[*]} failed (see above)"
  for name in "${missing[@]}"; do installed "$name" || fail "$name is still not installed after apt-get install"; done
}

remove() {
  local present=() name
  for name in $(listed suite); do installed "$name" && present+=("$name"); done
  # --auto-remove: chromium-common and the libraries that came only with these go too, as on a machine that
  # never had them.
  [ ${#present[@]} -eq 0 ] && { log "none of the suites' packages is installed"; return 0; }
  log "removing ${present[*]} (and what was installed only for them)"
  apt purge --auto-remove -y "${present[@]}" >/dev/null
}

case "${1:-}" in
  ensure) shift; ensure "$@" ;;
  remove) remove ;;
  list) listed "${2:-}" ;;
  *) fail "usage: $0 ensure [PACKAGE...] | remove | list [suite|base]" ;;
esac
