#!/bin/sh
# compose's one-shot `kafka-init` (apache/kafka image): topics, SCRAM-SHA-512 users and ACLs, on
# the nodes' internal mutual-TLS listener (KAFKA_BOOTSTRAP: kafka-1..3:9094, as the super user
# CN=kafka-admin). The topics and ACLs come from deploy/kafka/acls.sh, generated from the code
# (`python -m devstack.kafka_acls`; tests/test_compose.py fails when it drifts). Re-running it
# is harmless: topics are created if missing, passwords set again, ACLs added again.
# Topics get KAFKA_TOPIC_PARTITIONS partitions (partitions.sh), KAFKA_TOPIC_REPLICATION_FACTOR
# copies and KAFKA_TOPIC_MIN_INSYNC_REPLICAS; a topic that exists with another partition count
# stops it (exit 1) and is never altered (docs/partitions.md, "Growing a live deployment").
set -eu
. /deploy/kafka/partitions.sh
cat > /tmp/admin.properties <<PROPERTIES
security.protocol=SSL
ssl.keystore.type=PKCS12
ssl.keystore.location=/tls/admin.p12
ssl.keystore.password=$KAFKA_TLS_STORE_PASSWORD
ssl.truststore.type=PKCS12
ssl.truststore.location=/tls/truststore.p12
ssl.truststore.password=$KAFKA_TLS_STORE_PASSWORD
PROPERTIES
ADMIN="--bootstrap-server ${KAFKA_BOOTSTRAP:-kafka-1:9094} --command-config /tmp/admin.properties"
topic() {
  wanted=$(partitions_of "$1")
  live=$(/opt/kafka/bin/kafka-topics.sh $ADMIN --describe --topic "$1" 2>/dev/null \
    | sed -n 's/.*PartitionCount: *\([0-9]*\).*/\1/p' | head -n 1)
  if [ -z "$live" ]; then
    /opt/kafka/bin/kafka-topics.sh $ADMIN --create --if-not-exists --topic "$1" --partitions "$wanted" \
      --replication-factor "${KAFKA_TOPIC_REPLICATION_FACTOR:-3}" \
      --config "min.insync.replicas=${KAFKA_TOPIC_MIN_INSYNC_REPLICAS:-2}"
  elif [ "$live" != "$wanted" ]; then
    echo "kafka-init: refused: Kafka topic $1 has $live partitions, the configuration says $wanted" \
      "(KAFKA_TOPIC_PARTITIONS or KAFKA_TOPIC_PARTITIONS_<TOPIC>). A live topic's partition count is" \
      "never changed: keep $live, or grow through a new topic generation (docs/partitions.md#growing-a-live-deployment)" >&2
    exit 1
  fi
}
user() {  # user NAME PASSWORD
  /opt/kafka/bin/kafka-configs.sh $ADMIN --alter --entity-type users --entity-name "$1" \
    --add-config "SCRAM-SHA-512=[iterations=8192,password=$2]"
}
acl() {  # acl PRINCIPAL OPERATION RESOURCE-OPTION NAME [PATTERN]
  if [ "$3" = "--cluster" ]; then  # the cluster resource takes no name
    set -- "$1" "$2" --cluster "" "${5:-}"
  fi
  /opt/kafka/bin/kafka-acls.sh $ADMIN --add --allow-principal "User:$1" --operation "$2" "$3" ${4:+"$4"} \
    ${5:+--resource-pattern-type "$5"}
}
. /deploy/kafka/acls.sh
echo "kafka-init: topics, users and ACLs in place"
