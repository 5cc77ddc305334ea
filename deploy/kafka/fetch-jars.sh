#!/usr/bin/env bash
# Prints the folder holding Apache Kafka's runtime jars, downloading them first if needed.
#
# The jars of pom.xml (the one place the Kafka version is set) are copied by Maven into a cache
# outside the work tree, ${SWAPWATCH_CACHE:-$HOME/.cache/swapwatch}/kafka-<version>/libs, so only
# the first run downloads. A marker written after a complete copy (holding the POM's checksum)
# tells a finished download from a half-finished one, which is redone. A lock keeps two
# concurrent callers (say, two test runs) from downloading into the same folder.
#
# stdout carries only the folder's path; Maven's output goes to stderr.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
pom="$here/pom.xml"
version="$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$pom")"
if [[ -z "$version" ]]; then
  echo "fetch-jars.sh: no <kafka.version> in $pom" >&2
  exit 1
fi
home="${SWAPWATCH_CACHE:-$HOME/.cache/swapwatch}/kafka-$version"
libs="$home/libs"
marker="$home/download-complete"
stamp="$(cksum <"$pom" | cut -d' ' -f1)"

is_complete() { [[ -d "$libs" && -f "$marker" && "$(cat "$marker")" == "$stamp" ]]; }

if is_complete; then
  echo "$libs"
  exit 0
fi

mkdir -p "$home"
exec 9>"$home/.lock"
flock 9
if ! is_complete; then
  if ! command -v mvn >/dev/null 2>&1; then
    echo "fetch-jars.sh: Maven (mvn) and Java 17+ are needed to fetch Apache Kafka $version" >&2
    exit 1
  fi
  echo "fetch-jars.sh: downloading Apache Kafka $version jars into $libs" >&2
  rm -f "$marker"
  partial="$home/libs.partial"
  rm -rf "$partial"
  mvn -B -q -Dstyle.color=never -f "$pom" dependency:copy-dependencies \
    -DincludeScope=runtime -DoutputDirectory="$partial" >&2
  if ! ls "$partial"/kafka_2.13-"$version".jar >/dev/null 2>&1; then
    echo "fetch-jars.sh: Maven finished but kafka_2.13-$version.jar is missing" >&2
    exit 1
  fi
  rm -rf "$libs"
  mv "$partial" "$libs"
  echo "$stamp" >"$marker"
fi
echo "$libs"
