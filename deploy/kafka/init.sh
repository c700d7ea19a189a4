#!/bin/sh
# compose's one-shot `kafka-init` (apache/kafka image): topics, SCRAM-SHA-512 users and ACLs, on
# the broker's internal mutual-TLS listener (kafka:9094, as the super user CN=kafka-admin).
# The topics and ACLs come from deploy/kafka/acls.sh, generated from the code
# (`python -m devstack.kafka_acls`; tests/test_compose.py fails when it drifts). Re-running it
# is harmless: topics are created if missing, passwords set again, ACLs added again.
set -eu
cat > /tmp/admin.properties <<PROPERTIES
security.protocol=SSL
ssl.keystore.type=PKCS12
ssl.keystore.location=/tls/admin.p12
ssl.keystore.password=$KAFKA_TLS_STORE_PASSWORD
ssl.truststore.type=PKCS12
ssl.truststore.location=/tls/truststore.p12
ssl.truststore.password=$KAFKA_TLS_STORE_PASSWORD
PROPERTIES
ADMIN="--bootstrap-server kafka:9094 --command-config /tmp/admin.properties"
topic() {
  /opt/kafka/bin/kafka-topics.sh $ADMIN --create --if-not-exists --topic "$1" \
    --partitions "${KAFKA_TOPIC_PARTITIONS:-3}" --replication-factor 1
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
