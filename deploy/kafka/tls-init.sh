#!/bin/sh
# compose's one-shot `kafka-tls` (apache/kafka image, keytool): a CA and two certificates signed by
# it, into the `kafka-tls` volume, once. The broker's certificate (one for the three nodes) names
# every host a client or another node uses: SAN below, kafka-1..3 and localhost (the nodes'
# healthcheck); `admin` is the certificate compose's `kafka-init` presents on the nodes' internal
# mutual-TLS listener to create users and ACLs. The CA's private key is deleted after signing:
# nothing else is ever signed by it (rotate by emptying the volume; a volume whose certificates
# name other hosts, e.g. the earlier single `kafka`, is written again).
# Clients (the services) get ca.pem only. The stores' password: KAFKA_TLS_STORE_PASSWORD.
set -eu
SAN="dns:kafka-1,dns:kafka-2,dns:kafka-3,dns:localhost,ip:127.0.0.1"
cd /tls
if [ -f ca.pem ] && [ -f broker.p12 ] && [ -f admin.p12 ] && [ -f truststore.p12 ] \
  && [ "$(cat san.txt 2>/dev/null)" = "$SAN" ]; then
  echo "kafka-tls: certificates already present"
  exit 0
fi
rm -f ./*.p12 ./*.pem ./*.crt san.txt
store() { keytool -storetype PKCS12 -storepass "$KAFKA_TLS_STORE_PASSWORD" "$@"; }
store -genkeypair -alias ca -dname "CN=backbone-kafka-ca" -keyalg EC -groupname secp256r1 \
  -validity 825 -ext bc:c -keystore ca.p12
store -exportcert -rfc -alias ca -keystore ca.p12 > ca.pem
store -importcert -noprompt -alias ca -file ca.pem -keystore truststore.p12
for who in broker admin; do
  store -genkeypair -alias "$who" -dname "CN=kafka-$who" -keyalg EC -groupname secp256r1 \
    -validity 825 -keystore "$who.p12"
  store -certreq -alias "$who" -keystore "$who.p12" \
    | store -gencert -alias ca -keystore ca.p12 -rfc -validity 825 \
        -ext "SAN=$SAN" > "$who.crt"
  store -importcert -noprompt -alias ca -file ca.pem -keystore "$who.p12"
  store -importcert -alias "$who" -file "$who.crt" -keystore "$who.p12"
done
rm -f ca.p12 ./*.crt
chmod 0644 ca.pem
echo "$SAN" > san.txt
# The apache/kafka image runs as appuser (uid 1000): the broker and kafka-init read these.
chown 1000:1000 broker.p12 admin.p12 truststore.p12
chmod 0600 broker.p12 admin.p12 truststore.p12
echo "kafka-tls: CA and certificates written"
