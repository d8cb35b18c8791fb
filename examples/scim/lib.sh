# Shared by the scripts of examples/scim: one SCIM request, its status checked.
# Needs bash, curl and jq. Set ADMIT_URL (default http://localhost:8080)
# and SCIM_TOKEN (make demo prints one; admit scim-token create makes one).
set -euo pipefail
: "${SCIM_TOKEN:?set SCIM_TOKEN: make demo prints one, or run admit scim-token create --account S}"
ADMIT_URL="${ADMIT_URL:-http://localhost:8080}"
body=$(mktemp)
trap 'rm -f "$body"' EXIT

# scim NAME METHOD PATH WANT [JSON]: prints the step and its status, fails
# when the status is not WANT; the response body is in $body.
scim() {
	local name=$1 method=$2 path=$3 want=$4 data=${5:-}
	local args=(-sS -o "$body" -w '%{http_code}' -X "$method" -H "Authorization: Bearer $SCIM_TOKEN"
		-H 'Accept: application/scim+json')
	if [[ -n $data ]]; then
		args+=(-H "Content-Type: ${SCIM_CONTENT_TYPE:-application/scim+json}" --data-binary "$data")
	fi
	local got
	got=$(curl "${args[@]}" "$ADMIT_URL/scim/v2$path")
	printf '%-48s %s %s -> %s\n' "$name" "$method" "$path" "$got"
	if [[ $got != "$want" ]]; then
		echo "expected $want; the response was:" >&2
		cat "$body" >&2
		echo >&2
		exit 1
	fi
}

# field EXPR: a value of the last response, by jq expression.
field() { jq -r "$1" "$body"; }

# q TEXT: TEXT escaped for a query string (a SCIM filter).
q() { jq -rn --arg v "$1" '$v|@uri'; }

# expect WHAT GOT WANT: fails when a value of a response is not the one wanted.
expect() {
	if [[ $2 != "$3" ]]; then
		echo "$1: got $2, want $3" >&2
		exit 1
	fi
}
