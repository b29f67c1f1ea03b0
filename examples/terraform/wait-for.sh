#!/bin/sh
# Polls mockcloud until an asynchronous change has settled; the restapi provider never waits.
#   wait-for.sh status <vms|volumes> <id> <status>   until the resource has <status> (fails on "error")
#   wait-for.sh empty <environment id>               until the environment holds no VM and no volume
#   wait-for.sh no-vms <environment id>              until the environment holds no VM
# MOCKCLOUD_ENDPOINT (default http://localhost:8000), MOCKCLOUD_TOKEN, MOCKCLOUD_WAIT_TIMEOUT (s, default 600).
set -eu
endpoint="${MOCKCLOUD_ENDPOINT:-http://localhost:8000}"
deadline=$(( $(date +%s) + ${MOCKCLOUD_WAIT_TIMEOUT:-600} ))

get() {
  if [ -n "${MOCKCLOUD_TOKEN:-}" ]; then
    curl -s -H "Authorization: Bearer $MOCKCLOUD_TOKEN" "$endpoint$1"
  else
    curl -s "$endpoint$1"
  fi
}

settled() {
  case "$1" in
    status)
      body=$(get "/api/v1/$2/$3")
      case "$body" in
        *"\"status\":\"$4\""*) return 0 ;;
        *'"status":"error"'*) echo "mockcloud: $2/$3 failed: $body" >&2; exit 1 ;;
        *'"code":"not_found"'*) echo "mockcloud: $2/$3 does not exist" >&2; exit 1 ;;
      esac
      return 1 ;;
    empty)
      get "/api/v1/vms?environment_id=$2&limit=1" | grep -q '"items":\[\]' &&
        get "/api/v1/volumes?environment_id=$2&limit=1" | grep -q '"items":\[\]' ;;
    no-vms)
      get "/api/v1/vms?environment_id=$2&limit=1" | grep -q '"items":\[\]' ;;
    *) echo "usage: wait-for.sh status|empty|no-vms ..." >&2; exit 2 ;;
  esac
}

until settled "$@"; do
  if [ "$(date +%s)" -ge "$deadline" ]; then echo "mockcloud: timed out waiting for: $*" >&2; exit 1; fi
  sleep 1
done
