# Sourced by init.sh: `partitions_of TOPIC` prints the partition count compose's kafka-init gives
# TOPIC, by the rules of devstack.partitions (docs/partitions.md; tests/test_compose.py runs both
# and compares): KAFKA_TOPIC_PARTITIONS_<TOPIC> (upper case, `.` and `-` as `_`), else for a
# `.dlq` its topic's count, else KAFKA_TOPIC_PARTITIONS, else 12. Not a positive number (or one written with a leading 0): refused.
partitions_of() {
  _variable="KAFKA_TOPIC_PARTITIONS_$(printf '%s' "$1" | tr 'a-z.-' 'A-Z__')"
  eval "_count=\${$_variable:-}"
  if [ -z "$_count" ] && [ "${1%.dlq}" != "$1" ]; then
    partitions_of "${1%.dlq}"
    return
  fi
  if [ -z "$_count" ]; then
    _variable=KAFKA_TOPIC_PARTITIONS
    _count="${KAFKA_TOPIC_PARTITIONS:-12}"
  fi
  case "$_count" in
    "" | *[!0-9]* | 0*) echo "$_variable=$_count: expected a number of partitions, 1 or more" >&2; return 1 ;;
  esac
  echo "$_count"
}
