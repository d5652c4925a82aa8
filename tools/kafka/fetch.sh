#!/usr/bin/env bash
# Resolves Apache Kafka's broker jars (KRaft mode) from Maven Central into .cache/kafka/VERSION/libs, once per
# machine (the directory is the cache), and prints that directory. Needs Java 17 and Maven; nothing else.
#   tools/kafka/fetch.sh [VERSION]      (default 3.9.1; 4.1.1 also passes the Kafka tests with kafkajs 2.2.4)
set -euo pipefail
VERSION="${1:-${LVU_KAFKA_VERSION:-3.9.1}}"
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
DEST="$ROOT/.cache/kafka/$VERSION"
if [ -f "$DEST/.complete" ]; then echo "$DEST/libs"; exit 0; fi
mkdir -p "$ROOT/.cache"
exec 9>"$ROOT/.cache/kafka.lock.$VERSION"
flock 9
if [ -f "$DEST/.complete" ]; then echo "$DEST/libs"; exit 0; fi
mkdir -p "$DEST"
cat > "$DEST/pom.xml" <<POM
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>lvu</groupId><artifactId>kafka-broker</artifactId><version>1</version>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>$VERSION</version></dependency>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka-storage</artifactId><version>$VERSION</version></dependency>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka-tools</artifactId><version>$VERSION</version></dependency>
    <dependency><groupId>org.slf4j</groupId><artifactId>slf4j-reload4j</artifactId><version>1.7.36</version></dependency>
  </dependencies>
</project>
POM
echo "== resolving Apache Kafka $VERSION from Maven Central" >&2
mvn -q -B -f "$DEST/pom.xml" dependency:copy-dependencies -DoutputDirectory="$DEST/libs" -DincludeScope=runtime >&2
touch "$DEST/.complete"
echo "$DEST/libs"
