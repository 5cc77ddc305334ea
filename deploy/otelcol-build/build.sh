#!/usr/bin/env bash
# Builds the minimal OpenTelemetry Collector of builder-config.yaml and prints its path.
#
# Everything goes to a cache outside the work tree,
# ${SWAPWATCH_CACHE:-$HOME/.cache/swapwatch}/otelcol-<version>/: the builder (ocb) itself,
# the generated sources, and the binary. A marker holding the manifest's checksum, written
# after a complete build, makes later calls return at once; changing the manifest rebuilds.
# A lock keeps two concurrent callers from building into the same folder. Go modules come
# from the Go module proxy into Go's own caches (GOMODCACHE, GOCACHE), so a rebuild after a
# manifest change compiles only what changed.
#
# Needs Go (>= the go directive of the collector modules, 1.25 for v0.155.0).
# GOFLAGS=-p=1 halves peak memory at the cost of time. stdout carries only the binary's path.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
manifest="$here/builder-config.yaml"
version="$(sed -n 's/^  version: *\([0-9.]*\).*/\1/p' "$manifest")"
if [[ -z "$version" ]]; then
  echo "build.sh: no dist.version in $manifest" >&2
  exit 1
fi
home="${SWAPWATCH_CACHE:-$HOME/.cache/swapwatch}/otelcol-$version"
binary="$home/otelcol-swapwatch"
marker="$home/build-complete"
stamp="$(cksum <"$manifest" | cut -d' ' -f1)"

is_complete() { [[ -x "$binary" && -f "$marker" && "$(cat "$marker")" == "$stamp" ]]; }

if is_complete; then
  echo "$binary"
  exit 0
fi

mkdir -p "$home"
exec 9>"$home/.lock"
flock 9
if ! is_complete; then
  # the official installer's location, for shells whose PATH was not set up by a login profile
  if ! command -v go >/dev/null 2>&1 && [[ -x /usr/local/go/bin/go ]]; then
    PATH="/usr/local/go/bin:$PATH"
  fi
  if ! command -v go >/dev/null 2>&1; then
    echo "build.sh: Go is needed to build the collector (https://go.dev/dl/)" >&2
    exit 1
  fi
  rm -f "$marker"
  # the builder at the same version as the components it assembles
  if [[ ! -x "$home/bin/builder" ]]; then
    echo "build.sh: installing ocb v$version into $home/bin" >&2
    GOBIN="$home/bin" go install "go.opentelemetry.io/collector/cmd/builder@v$version" >&2
  fi
  # the committed manifest has no output_path: this copy points it into the cache
  sed "s|^dist:|dist:\n  output_path: $home/src|" "$manifest" >"$home/builder-config.yaml"
  echo "build.sh: building the collector into $home (minutes on a cold cache)" >&2
  "$home/bin/builder" --config "$home/builder-config.yaml" >&2
  mv -f "$home/src/otelcol-swapwatch" "$binary"
  echo "$stamp" >"$marker"
fi
echo "$binary"
