#!/usr/bin/env bash
# The requests JumpCloud's Custom SCIM Identity Management integration
# sends, in order: Test Connection (a test user and a test group, created
# and deleted), a lookup by userName before each create or update, updates
# as one replace per attribute with its path, suspension by replace of
# active, and a user group pushed with its members, renamed, its members
# removed and added with the path "members". Run against `make demo`:
#   SCIM_TOKEN=<printed by make demo> examples/scim/jumpcloud.sh
source "$(dirname "$0")/lib.sh"
suffix=$RANDOM$RANDOM
test_user="jumpcloud.test.$suffix@acme.example"
user_name="jumpcloud.user.$suffix@acme.example"
patch='{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":'
user() { # user ADDRESS: a user as JumpCloud sends it
	echo '{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"'"$1"'","active":true,
 "name":{"givenName":"JumpCloud","familyName":"User"},"displayName":"JumpCloud User",
 "emails":[{"value":"'"$1"'","type":"work","primary":true}]}'
}

scim "Test Connection: look the test user up" GET "/Users?filter=$(q "userName eq \"$test_user\"")" 200
scim "Test Connection: create the test user" POST /Users 201 "$(user "$test_user")"
tid=$(field .id)
scim "Test Connection: create the test group" POST /Groups 201 '{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"JumpCloud test '$suffix'","members":[{"value":"'$tid'"}]}'
tgid=$(field .id)
scim "Test Connection: delete the test group" DELETE "/Groups/$tgid" 204
scim "Test Connection: delete the test user" DELETE "/Users/$tid" 204

scim "look the user up" GET "/Users?filter=$(q "userName eq \"$user_name\"")" 200
expect totalResults "$(field .totalResults)" 0
scim "create the user" POST /Users 201 "$(user "$user_name")"
id=$(field .id)
scim "update: one replace per attribute" PATCH "/Users/$id" 200 "$patch"'[{"op":"replace","path":"name.givenName","value":"Jay"},{"op":"replace","path":"title","value":"Engineer"}]}'
expect givenName "$(field .name.givenName)" Jay
scim "suspend" PATCH "/Users/$id" 200 "$patch"'[{"op":"replace","path":"active","value":false}]}'
expect active "$(field .active)" false
scim "restore" PATCH "/Users/$id" 200 "$patch"'[{"op":"replace","path":"active","value":true}]}'

group="JumpCloud group $suffix"
scim "look the group up by name" GET "/Groups?filter=$(q "displayName eq \"$group\"")" 200
scim "create the group with its member" POST /Groups 201 '{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"'"$group"'","members":[{"value":"'$id'"}]}'
gid=$(field .id)
scim "remove the member" PATCH "/Groups/$gid" 204 "$patch"'[{"op":"remove","path":"members","value":[{"value":"'$id'"}]}]}'
scim "add the member" PATCH "/Groups/$gid" 204 "$patch"'[{"op":"add","path":"members","value":[{"value":"'$id'"}]}]}'
scim "rename the group" PATCH "/Groups/$gid" 204 "$patch"'[{"op":"replace","path":"displayName","value":"'"$group"' renamed"}]}'
scim "delete the group" DELETE "/Groups/$gid" 204
echo "JumpCloud's sequence passed: $user_name is in admit, active."
