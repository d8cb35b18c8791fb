#!/usr/bin/env bash
# The requests Okta sends to a SCIM 2.0 app, in order: the checks of Okta's
# SCIM test plan (list, look up, create, duplicate, unknown id, replace,
# deactivate), then a group push. Run against `make demo`:
#   SCIM_TOKEN=<printed by make demo> examples/scim/okta.sh
source "$(dirname "$0")/lib.sh"
suffix=$RANDOM$RANDOM
user_name="okta.user.$suffix@acme.example"
user='{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"'$user_name'",
 "name":{"givenName":"Okta","familyName":"User"},"emails":[{"primary":true,"value":"'$user_name'","type":"work"}],
 "displayName":"Okta User","locale":"en-US","externalId":"00u'$suffix'","groups":[],"password":"never-stored-1","active":true}'
patch='{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":'

scim "the endpoint answers a one-user page" GET "/Users?count=1&startIndex=1" 200
scim "the user does not exist yet" GET "/Users?filter=$(q "userName eq \"$user_name\"")&startIndex=1&count=100" 200
expect totalResults "$(field .totalResults)" 0
scim "create the user" POST /Users 201 "$user"
id=$(field .id)
scim "read the user (no password in it)" GET "/Users/$id" 200
expect password "$(field '.password // "absent"')" absent
scim "creating the same user again" POST /Users 409 "$user"
scim "an unknown id" GET /Users/010101010101010101010101 404
scim "profile update by PUT" PUT "/Users/$id" 200 "${user/\"givenName\":\"Okta\"/\"givenName\":\"Octavia\"}"
expect givenName "$(field .name.givenName)" Octavia
scim "deactivate" PATCH "/Users/$id" 200 "$patch"'[{"op":"replace","value":{"active":false}}]}'
expect active "$(field .active)" false
scim "reactivate" PATCH "/Users/$id" 200 "$patch"'[{"op":"replace","value":{"active":true}}]}'

group="Okta push $suffix"
scim "the group does not exist yet" GET "/Groups?filter=$(q "displayName eq \"$group\"")" 200
scim "push the group with its member" POST /Groups 201 '{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"'"$group"'","members":[{"value":"'$id'","display":"'$user_name'"}]}'
gid=$(field .id)
scim "rename the group" PATCH "/Groups/$gid" 204 "$patch"'[{"op":"replace","value":{"id":"'$gid'","displayName":"'"$group"' renamed"}}]}'
scim "remove the member" PATCH "/Groups/$gid" 204 "$patch"'[{"op":"remove","path":"members[value eq \"'$id'\"]"}]}'
scim "add the member" PATCH "/Groups/$gid" 204 "$patch"'[{"op":"add","path":"members","value":[{"value":"'$id'"}]}]}'
scim "delete the pushed group" DELETE "/Groups/$gid" 204
scim "deactivate (unassigned in Okta)" PATCH "/Users/$id" 200 "$patch"'[{"op":"replace","value":{"active":false}}]}'
echo "Okta's sequence passed: $user_name is in admit, deactivated."
