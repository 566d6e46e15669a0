#!/usr/bin/env bash
# Builds the Redis/Valkey servers of the compatibility matrix (TLS on) from the source tarballs in
# ../shared/redis-src (override: STREAMFAN_REDIS_SRC) into a cache outside the repository
# (STREAMFAN_REDIS_CACHE, default ~/.cache/streamfan/redis): <cache>/<name>/bin/{redis-server,redis-cli}.
# A server already built from the same tarball (same SHA-256) is skipped, so runs after the first are instant.
#
#   compat/build-servers.sh                 # every server in the matrix
#   compat/build-servers.sh redis-6.2.16    # just one
#   compat/build-servers.sh --list          # names, one a line
#
# Builds run one after another with make -j2 (the CI machine has 2 cores); each prints its build time.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
src_dir="${STREAMFAN_REDIS_SRC:-$root/../shared/redis-src}"
cache="${STREAMFAN_REDIS_CACHE:-$HOME/.cache/streamfan/redis}"
jobs="${STREAMFAN_BUILD_JOBS:-2}"
all=(redis-6.2.16 redis-7.2.6 redis-7.4.1 valkey-8.0.1)

if [ "${1:-}" = "--list" ]; then printf '%s\n' "${all[@]}"; exit 0; fi
names=("$@"); [ ${#names[@]} -gt 0 ] || names=("${all[@]}")

missing=()
for tool in gcc make pkg-config sha256sum tar; do command -v "$tool" >/dev/null 2>&1 || missing+=("$tool"); done
[ -f /usr/include/openssl/ssl.h ] || missing+=(libssl-dev)
if [ ${#missing[@]} -gt 0 ]; then
  echo "build-servers: missing ${missing[*]}; install with: apt-get install -y gcc make libssl-dev pkg-config" >&2
  exit 1
fi

[ -f "$src_dir/SHA256SUMS" ] || { echo "build-servers: no $src_dir/SHA256SUMS (set STREAMFAN_REDIS_SRC)" >&2; exit 1; }
mkdir -p "$cache"

# One build at a time per cache, even if two runs start together.
exec 9>"$cache/.lock"
flock 9

for name in "${names[@]}"; do
  tarball="$name.tar.gz"
  [ -f "$src_dir/$tarball" ] || { echo "build-servers: no $src_dir/$tarball" >&2; exit 1; }
  want="$(awk -v f="$tarball" '$2 == f || $2 == "*"f { print $1 }' "$src_dir/SHA256SUMS")"
  [ -n "$want" ] || { echo "build-servers: $tarball is not listed in SHA256SUMS" >&2; exit 1; }
  have="$(sha256sum "$src_dir/$tarball" | awk '{ print $1 }')"
  if [ "$want" != "$have" ]; then
    echo "build-servers: $tarball checksum mismatch (want $want, have $have)" >&2
    exit 1
  fi

  dest="$cache/$name"
  if [ -x "$dest/bin/redis-server" ] && [ "$(cat "$dest/.built-from" 2>/dev/null)" = "$have" ]; then
    echo "build-servers: $name already built ($dest/bin)"
    continue
  fi

  echo "build-servers: building $name (TLS on, -j$jobs) ..."
  start=$(date +%s)
  rm -rf "$dest"
  mkdir -p "$dest/build" "$dest/bin"
  tar xzf "$src_dir/$tarball" -C "$dest/build"
  top="$(find "$dest/build" -mindepth 1 -maxdepth 1 -type d | head -1)"
  if ! make -C "$top" -j"$jobs" BUILD_TLS=yes >"$dest/build.log" 2>&1; then
    echo "build-servers: $name failed; last lines of $dest/build.log:" >&2
    tail -30 "$dest/build.log" >&2
    exit 1
  fi
  if [ -x "$top/src/valkey-server" ]; then
    cp "$top/src/valkey-server" "$dest/bin/valkey-server"
    cp "$top/src/valkey-cli" "$dest/bin/valkey-cli"
    # Tools (and our test helpers) call redis-server / redis-cli.
    ln -sf valkey-server "$dest/bin/redis-server"
    ln -sf valkey-cli "$dest/bin/redis-cli"
  else
    cp "$top/src/redis-server" "$top/src/redis-cli" "$dest/bin/"
  fi
  rm -rf "$dest/build"
  "$dest/bin/redis-server" --version
  echo "$have" >"$dest/.built-from"
  echo "build-servers: $name built in $(( $(date +%s) - start )) s"
done
