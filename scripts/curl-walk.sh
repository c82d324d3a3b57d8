#!/usr/bin/env bash
# Walks a `skylight sim` tenant with nothing but curl (and jq to read JSON), exactly as
# Microsoft's reference describes a client: token → start subscriptions → list content for each
# 24 h window of the last 7 days, following NextPageUri → fetch every blob.
# Usage: scripts/curl-walk.sh http://127.0.0.1:9000   (prints one line per content type, then a total)
set -euo pipefail
SIM=${1:?usage: curl-walk.sh SIM_URL}
T=$(curl -sf "$SIM/_sim/tenant")
TENANT=$(jq -r .tenant_id <<<"$T"); CLIENT=$(jq -r .client_id <<<"$T"); SECRET=$(jq -r .client_secret <<<"$T")
LOGIN=$(jq -r .login_url <<<"$T"); MANAGE=$(jq -r .manage_url <<<"$T")
ROOT="$MANAGE/api/v1.0/$TENANT/activity/feed"
PUB="PublisherIdentifier=$TENANT"

# 1. Token (v2 endpoint, client secret, scope = the Management API's /.default).
TOKEN=$(curl -sf -D /tmp/curl-walk-token-headers -X POST "$LOGIN/$TENANT/oauth2/v2.0/token" \
  --data-urlencode grant_type=client_credentials --data-urlencode "client_id=$CLIENT" \
  --data-urlencode "client_secret=$SECRET" --data-urlencode scope=https://manage.office.com/.default | jq -r .access_token)
AUTH="Authorization: Bearer $TOKEN"

total_blobs=0; total_records=0
for CT in Audit.AzureActiveDirectory Audit.Exchange Audit.SharePoint Audit.General DLP.All; do
  # 2. Start the subscription (AF20024 "already enabled" also counts as success).
  code=$(curl -s -o /tmp/curl-walk-start.json -w '%{http_code}' -X POST -H "$AUTH" "$ROOT/subscriptions/start?contentType=$CT&$PUB")
  if [ "$code" != 200 ] && ! grep -q AF20024 /tmp/curl-walk-start.json; then
    echo "start $CT failed: $code $(cat /tmp/curl-walk-start.json)" >&2; exit 1
  fi
  blobs=0; records=0
  # The service's clock, not ours (its Date header): windows are judged against it.
  NOW=$(date -u -d "$(grep -i '^date:' /tmp/curl-walk-token-headers | cut -d' ' -f2- | tr -d '\r')" +%s)
  # 3. Seven windows of 24 h, oldest first; the oldest starts a minute inside the 7-day limit.
  for d in 7 6 5 4 3 2 1; do
    S=$(date -u -d "@$((NOW - d*86400 + 60))" +%Y-%m-%dT%H:%M:%S)
    E=$(date -u -d "@$((NOW - (d-1)*86400 + 60))" +%Y-%m-%dT%H:%M:%S)
    URL="$ROOT/subscriptions/content?contentType=$CT&startTime=$S&endTime=$E&$PUB"
    while [ -n "$URL" ]; do
      curl -sf -D /tmp/curl-walk-headers -H "$AUTH" "$URL" -o /tmp/curl-walk-page.json
      for uri in $(jq -r '.[].contentUri' /tmp/curl-walk-page.json); do
        # 4. Fetch the blob (PublisherIdentifier appended again).
        n=$(curl -sf -H "$AUTH" "$uri?$PUB" | jq length)
        blobs=$((blobs+1)); records=$((records+n))
      done
      # NextPageUri omits PublisherIdentifier: add it back.
      NEXT=$(grep -i '^nextpageuri:' /tmp/curl-walk-headers | sed 's/^[^:]*: *//' | tr -d '\r' || true)
      URL=${NEXT:+$NEXT&$PUB}
    done
  done
  echo "$CT blobs=$blobs records=$records"
  total_blobs=$((total_blobs+blobs)); total_records=$((total_records+records))
done
echo "total blobs=$total_blobs records=$total_records"
