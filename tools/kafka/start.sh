#!/usr/bin/env bash
# Starts a single-node Apache Kafka broker in KRaft mode (broker + controller in one JVM) on 127.0.0.1, in the
# foreground. Its jars come from Maven Central through tools/kafka/fetch.sh (cached in .cache/kafka).
#   tools/kafka/start.sh [--port 9092] [--controller-port PORT+1] [--dir .cache/kafka/data] [--version 3.9.1]
#                        [--format-only]
# The data directory keeps its log across restarts (same cluster id); delete it for a fresh broker.
# LVU_KAFKA_CLUSTER_ID sets the cluster id of a fresh data directory (default: 16 random bytes, base64url).
set -euo pipefail
PORT=9092; CPORT=; FORMAT_ONLY=0; VERSION="${LVU_KAFKA_VERSION:-3.9.1}"
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
DIR="$ROOT/.cache/kafka/data"
while [ $# -gt 0 ]; do
  case "$1" in
    --port) PORT="$2"; shift 2 ;;
    --controller-port) CPORT="$2"; shift 2 ;;
    --dir) DIR="$2"; shift 2 ;;
    --version) VERSION="$2"; shift 2 ;;
    --format-only) FORMAT_ONLY=1; shift ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
CPORT="${CPORT:-$((PORT + 1))}"  # a second broker on --port 9094 takes 9095, not the first one's 9093
LIBS="$("$(dirname "$0")/fetch.sh" "$VERSION")"
mkdir -p "$DIR/log"
cat > "$DIR/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$CPORT
listeners=PLAINTEXT://127.0.0.1:$PORT,CONTROLLER://127.0.0.1:$CPORT
advertised.listeners=PLAINTEXT://127.0.0.1:$PORT
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
log.dirs=$DIR/log
num.partitions=4
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=true
message.max.bytes=16777216
replica.fetch.max.bytes=16777216
log.retention.hours=24
PROPS
cat > "$DIR/log4j.properties" <<'LOG'
log4j.rootLogger=WARN, stdout
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.server.KafkaServer=INFO
log4j.logger.kafka.server.BrokerServer=INFO
LOG
if [ ! -f "$DIR/log/meta.properties" ]; then
  CLUSTER_ID="${LVU_KAFKA_CLUSTER_ID:-$(head -c16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')}"
  # `--cluster-id=ID`, not `-t ID`: a base64url id begins with '-' once in 64 and would be read as an option
  java -cp "$LIBS/*" -Dlog4j.configuration="file:$DIR/log4j.properties" kafka.tools.StorageTool format \
    "--cluster-id=$CLUSTER_ID" -c "$DIR/server.properties" --ignore-formatted >/dev/null
fi
[ "$FORMAT_ONLY" = 1 ] && exit 0
exec java -Xms256m -Xmx768m -cp "$LIBS/*" -Dlog4j.configuration="file:$DIR/log4j.properties" \
  kafka.Kafka "$DIR/server.properties"
