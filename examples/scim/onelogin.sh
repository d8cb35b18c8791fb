#!/usr/bin/env bash
# The requests OneLogin's "SCIM Provisioner with SAML (SCIM v2 Enterprise)"
# sends, in order, as it writes them: application/json, a lookup whose
# query ends in "&", updates as a PUT of the whole template (the path ends
# in "?"), the enterprise attributes under urn:scim:schemas:extension:
# enterprise:2.0, "" for parameters without a value, no "active" in the
# template, and group members added and removed with only their value.
# Run against `make demo`:
#   SCIM_TOKEN=<printed by make demo> examples/scim/onelogin.sh
source "$(dirname "$0")/lib.sh"
SCIM_CONTENT_TYPE=application/json
suffix=$RANDOM$RANDOM
user_name="onelogin.user.$suffix@acme.example"
template() { # template DEPARTMENT [ACTIVE]: the user as OneLogin fills its template
	echo '{"schemas":["urn:scim:schemas:core:2.0","urn:scim:schemas:extension:enterprise:2.0"],'"${2:+\"active\":$2,}"'
 "userName":"'$user_name'","name":{"familyName":"User","givenName":"OneLogin","formatted":"OneLogin User"},
 "emails":[{"value":"'$user_name'","type":"work","primary":true}],"title":"",
 "urn:scim:schemas:extension:enterprise:2.0":{"department":"'"$1"'","manager":{"value":"","displayName":" "}}}'
}
patch='{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":'

scim "look the user up by userName" GET "/Users?filter=$(q "userName eq \"$user_name\"")&" 200
expect totalResults "$(field .totalResults)" 0
scim "create the user from the template" POST /Users 201 "$(template Finance)"
id=$(field .id)
expect department "$(field '.["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"].department')" Finance
scim "update by PUT of the whole template" PUT "/Users/$id?" 200 "$(template Treasury)"
expect department "$(field '.["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"].department')" Treasury
scim "suspend" PUT "/Users/$id?" 200 "$(template Treasury false)"
scim "a profile update without active" PUT "/Users/$id?" 200 "$(template Audit)"
expect active "$(field .active)" false
scim "unsuspend" PUT "/Users/$id?" 200 "$(template Audit true)"
expect active "$(field .active)" true

group="OneLogin role $suffix"
scim "look the group up by name" GET "/Groups?filter=$(q "displayName eq \"$group\"")&" 200
scim "create the group" POST /Groups 201 '{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"'"$group"'","members":[]}'
gid=$(field .id)
scim "add the member" PATCH "/Groups/$gid" 204 "$patch"'[{"op":"add","path":"members","value":[{"value":"'$id'"}]}]}'
scim "remove the member" PATCH "/Groups/$gid" 204 "$patch"'[{"op":"remove","path":"members","value":[{"value":"'$id'"}]}]}'
scim "delete the group" DELETE "/Groups/$gid" 204
echo "OneLogin's sequence passed: $user_name is in admit, in the Audit department."
