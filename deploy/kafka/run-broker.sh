#!/usr/bin/env bash
# Runs a single-node Apache Kafka 4.x broker (KRaft combined mode: broker and controller in one
# JVM) on 127.0.0.1 only, in the foreground. The test harness (tests/kafka_harness.py) runs this
# same script, so the broker's configuration lives here and nowhere else.
#
# Usage: deploy/kafka/run-broker.sh [PORT]            (or: make kafka-broker)
#
# Environment (all optional):
#   KAFKA_PORT             client port, default 9092 (the PORT argument wins)
#   KAFKA_CONTROLLER_PORT  KRaft controller port, default PORT+1
#   KAFKA_DATA_DIR         storage folder. Unset: a temporary one, deleted when the broker stops.
#                          Set: kept, and reused (not formatted again) by the next run, which is
#                          how the harness restarts a broker on the same storage.
#   KAFKA_HEAP_OPTS        default "-Xms256m -Xmx768m"
#   KAFKA_JVM_OPTS         default: flags that start the JVM fast on a small machine
#   KAFKA_LOG4J_CONFIG     default deploy/kafka/log4j2.properties (WARN to logs/server.log)
#   KAFKA_CDS              0 turns off class data sharing (see below)
#   SWAPWATCH_CACHE        where the jars are cached (see fetch-jars.sh)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
port="${1:-${KAFKA_PORT:-9092}}"
controller_port="${KAFKA_CONTROLLER_PORT:-$((port + 1))}"
heap_opts="${KAFKA_HEAP_OPTS:--Xms256m -Xmx768m}"
# Serial GC and C1-only JIT: fewer GC and compiler threads competing for two shared cores and a
# smaller footprint; a test broker's throughput stays far above what a Python client can use.
jvm_opts="${KAFKA_JVM_OPTS:--XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xss512k}"
read -r -a jvm_args <<<"$heap_opts $jvm_opts"

libs="$("$here/fetch-jars.sh")"

# Class data sharing (AppCDS): the JVM maps the classes an earlier broker loaded from an archive
# instead of loading and verifying them again, which takes about a third off the start on two
# cores. The first broker (per JDK build and jar set) writes the archive when it stops cleanly;
# a later start checks that archive with -Xshare:on before adopting it. KAFKA_CDS=0 turns it off.
cds_use=()
cds_dump=()
if [[ "${KAFKA_CDS:-1}" != 0 ]]; then
  cds_dir="$(dirname "$libs")/cds"
  mkdir -p "$cds_dir"
  # An archive only fits the JDK build and the exact jars it was written with.
  jars="$(cat "$(dirname "$libs")/download-complete")"
  jdk="$(java -version 2>&1 | cksum | cut -d' ' -f1)-$jars"
  archive="$cds_dir/broker-$jdk.jsa"
  for stale in "$cds_dir"/broker-*.jsa; do
    [[ "$stale" == "$archive" ]] || rm -f "$stale" # written for another JDK or other jars
  done
  for part in "$cds_dir/broker-$jdk.jsa."*.part; do
    [[ -f "$part" ]] || continue
    writer="${part%.part}"
    writer="${writer##*.}"
    if kill -0 "$writer" 2>/dev/null; then
      continue # its broker is still running: the archive is written only when it stops
    fi
    if [[ ! -f "$archive" ]] && java "${jvm_args[@]}" -Xshare:on \
      "-XX:SharedArchiveFile=$part" -cp "$libs/*" -version >/dev/null 2>&1; then
      mv -f "$part" "$archive"
    else
      rm -f "$part" # broken (a broker killed while writing it) or not needed any more
    fi
  done
  if [[ -f "$archive" ]]; then
    cds_use=("-XX:SharedArchiveFile=$archive")
  elif ! compgen -G "$cds_dir/broker-$jdk.jsa.*.part" >/dev/null; then
    cds_dump=("-XX:ArchiveClassesAtExit=$cds_dir/broker-$jdk.jsa.$$.part")
  fi
fi

own_data_dir=0
if [[ -n "${KAFKA_DATA_DIR:-}" ]]; then
  data_dir="$KAFKA_DATA_DIR"
  mkdir -p "$data_dir"
else
  data_dir="$(mktemp -d "${TMPDIR:-/tmp}/swapwatch-kafka.XXXXXX")"
  own_data_dir=1
fi
mkdir -p "$data_dir/logs"
config="$data_dir/server.properties"
log_dir="$data_dir/kraft-logs"

cat >"$config" <<PROPERTIES
# Written by deploy/kafka/run-broker.sh; rewritten on every start.
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=127.0.0.1:$controller_port
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$controller_port
advertised.listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$controller_port
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
log.dirs=$log_dir
num.partitions=1
auto.create.topics.enable=true
default.replication.factor=1
min.insync.replicas=1
# One broker: every internal topic has a single replica.
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
# Fewer internal partitions and no rebalance delay: consumer groups form in well under a second.
offsets.topic.num.partitions=5
transaction.state.log.num.partitions=5
group.initial.rebalance.delay.ms=0
# After a crash the new incarnation waits until the old registration's session has expired
# (9 s by default); broker and controller share this JVM, so a short session is safe.
broker.heartbeat.interval.ms=500
broker.session.timeout.ms=4000
# Modest threads and buffers: this broker shares two cores with everything else.
num.network.threads=2
num.io.threads=4
background.threads=4
num.recovery.threads.per.data.dir=1
PROPERTIES

java_cmd=(java "${jvm_args[@]}" "${cds_use[@]}" -Djava.awt.headless=true
  "-Dkafka.logs.dir=$data_dir/logs"
  "-Dlog4j2.configurationFile=${KAFKA_LOG4J_CONFIG:-$here/log4j2.properties}"
  -cp "$libs/*")

if [[ ! -f "$log_dir/meta.properties" ]]; then
  # A cluster id is 16 random bytes in unpadded URL-safe base64 (Kafka's Uuid); Kafka never
  # hands out one starting with "-", so neither do we.
  cluster_id=""
  while [[ -z "$cluster_id" || "$cluster_id" == -* ]]; do
    cluster_id="$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')"
  done
  "${java_cmd[@]}" kafka.tools.StorageTool format --standalone -t "$cluster_id" -c "$config" \
    >"$data_dir/logs/format.log" 2>&1 || {
    cat "$data_dir/logs/format.log" >&2
    exit 1
  }
fi

echo "run-broker.sh: Apache Kafka on 127.0.0.1:$port (controller $controller_port)," \
  "storage $data_dir, log $data_dir/logs/server.log" >&2

if [[ $own_data_dir -eq 0 ]]; then
  exec "${java_cmd[@]}" "${cds_dump[@]}" kafka.Kafka "$config"
fi

# Our own temporary storage: stay around to delete it once the broker has stopped.
cleanup() { rm -rf "$data_dir"; }
trap cleanup EXIT
"${java_cmd[@]}" "${cds_dump[@]}" kafka.Kafka "$config" &
broker_pid=$!
trap 'kill -TERM "$broker_pid" 2>/dev/null || true' INT TERM
# wait returns early when a trapped signal arrives; wait again for the broker to finish.
wait "$broker_pid" || true
wait "$broker_pid" 2>/dev/null || true
