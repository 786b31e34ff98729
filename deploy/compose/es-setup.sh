#!/usr/bin/env bash
# One-shot security setup for docker-compose.yml. It runs in the Elasticsearch image as root and
# follows Elastic's own compose example:
#   1. Make a CA and a certificate for the `elasticsearch` service (once: kept in the `certs` volume).
#      Copy the CA certificate, which is public, to the `cacert` volume that the movierec containers mount.
#      The compose healthcheck of `setup` passes from this point on, so Elasticsearch can start.
#   2. Wait for Elasticsearch. Set the password of `kibana_system`. Create the role `movierec_pipeline`
#      (read, write and manage the movierec indices). Create or update the user `movierec` with that
#      role and its password from .env. Then exit 0, which starts the pipeline and the API.
# Every step can run again: run `docker compose up` again after changing a password in .env.
set -euo pipefail

: "${ELASTIC_PASSWORD:?set ELASTIC_PASSWORD in .env}"
: "${KIBANA_SYSTEM_PASSWORD:?set KIBANA_SYSTEM_PASSWORD in .env}"
: "${MOVIEREC_ES_PASSWORD:?set MOVIEREC_ES_PASSWORD in .env}"
prefix="${MOVIEREC_INDEX_PREFIX:-movierec-}"

# The passwords go into JSON bodies below. Allow only letters, digits, - and _ (as Elastic's example does).
# Elasticsearch needs at least 6 characters.
for name in ELASTIC_PASSWORD KIBANA_SYSTEM_PASSWORD MOVIEREC_ES_PASSWORD; do
  if [[ ! ${!name} =~ ^[A-Za-z0-9_-]{6,}$ ]]; then
    echo "setup: $name must be at least 6 characters: letters, digits, - or _" >&2
    exit 1
  fi
done
if [[ ! $prefix =~ ^[a-z0-9_-]+$ ]]; then
  echo "setup: MOVIEREC_INDEX_PREFIX must be lower-case letters, digits, - or _" >&2
  exit 1
fi

cd /usr/share/elasticsearch
certs=config/certs
if [[ ! -f $certs/ca/ca.crt ]]; then
  echo "setup: creating the CA"
  bin/elasticsearch-certutil ca --silent --pem --out "$certs/ca.zip"
  unzip -o -q "$certs/ca.zip" -d "$certs"
fi
if [[ ! -f $certs/elasticsearch/elasticsearch.crt ]]; then
  echo "setup: creating the certificate for elasticsearch"
  cat >"$certs/instances.yml" <<'YAML'
instances:
  - name: elasticsearch
    dns: [elasticsearch, localhost]
    ip: [127.0.0.1]
YAML
  bin/elasticsearch-certutil cert --silent --pem --out "$certs/certs.zip" --in "$certs/instances.yml" \
    --ca-cert "$certs/ca/ca.crt" --ca-key "$certs/ca/ca.key"
  unzip -o -q "$certs/certs.zip" -d "$certs"
fi
chown -R root:root "$certs"
find "$certs" -type d -exec chmod 750 {} +
find "$certs" -type f -exec chmod 640 {} +
install -m 644 "$certs/ca/ca.crt" /cacert/ca.crt

es=https://elasticsearch:9200
call() { # METHOD PATH [JSON]: fails on an HTTP error
  curl -fsS --cacert "$certs/ca/ca.crt" -u "elastic:$ELASTIC_PASSWORD" -X "$1" "$es$2" \
    -H 'Content-Type: application/json' ${3:+-d "$3"} -o /dev/null
}

echo "setup: waiting for Elasticsearch"
for attempt in $(seq 1 120); do
  if call GET '/_cluster/health?wait_for_status=yellow&timeout=5s' 2>/dev/null; then
    break
  fi
  if [[ $attempt == 120 ]]; then
    echo "setup: Elasticsearch did not answer within 10 minutes" >&2
    exit 1
  fi
  sleep 5
done

echo "setup: kibana_system password"
call POST /_security/user/kibana_system/_password "{\"password\":\"$KIBANA_SYSTEM_PASSWORD\"}"

echo "setup: role movierec_pipeline on ${prefix}*"
call PUT /_security/role/movierec_pipeline "$(
  cat <<JSON
{
  "cluster": ["monitor"],
  "indices": [
    {
      "names": ["${prefix}*"],
      "privileges": ["create_index", "delete_index", "manage", "read", "write", "view_index_metadata"]
    }
  ]
}
JSON
)"

echo "setup: user movierec"
call PUT /_security/user/movierec \
  "{\"password\":\"$MOVIEREC_ES_PASSWORD\",\"roles\":[\"movierec_pipeline\"],\"full_name\":\"movierec API and pipeline\"}"

echo "setup: done"
