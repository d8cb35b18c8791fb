#!/usr/bin/env bash
# The requests Microsoft Entra ID sends to a SCIM 2.0 app, in order, with
# its habits: capitalised ops, booleans as strings, "$ref": null, the
# emails[type eq "work"].value path, the enterprise extension, and the
# look-ups before a create. Run against `make demo`:
#   SCIM_TOKEN=<printed by make demo> examples/scim/entra.sh
source "$(dirname "$0")/lib.sh"
suffix=$RANDOM$RANDOM
user_name="entra.user.$suffix@acme.example"
object_id="0a21f0f2-8d2a-4f8e-bf98-$(printf '%012d' "$suffix")"
ext=urn:ietf:params:scim:schemas:extension:enterprise:2.0:User
patch='{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":'

scim "Test connection" GET "/Users?filter=$(q 'userName eq "e4e2d3b6-51b5-4f6f-8e0c-2b0d5b0a0c11"')" 200
scim "look up by externalId (objectId)" GET "/Users?filter=$(q "externalId eq \"$object_id\"")" 200
expect totalResults "$(field .totalResults)" 0
scim "create the user" POST /Users 201 '{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","'$ext'"],
 "externalId":"'$object_id'","userName":"'$user_name'","active":true,
 "emails":[{"primary":true,"type":"work","value":"'$user_name'"}],"meta":{"resourceType":"User"},
 "name":{"formatted":"Entra User","familyName":"User","givenName":"Entra"},"roles":[]}'
id=$(field .id)
scim "update the work email and family name" PATCH "/Users/$id" 200 "$patch"'[
 {"op":"Replace","path":"emails[type eq \"work\"].value","value":"'$user_name'"},
 {"op":"Replace","path":"name.familyName","value":"Updated"}]}'
expect familyName "$(field .name.familyName)" Updated
scim "department and manager" PATCH "/Users/$id" 200 "$patch"'[
 {"op":"Add","path":"'$ext':department","value":"Finance"},
 {"op":"Add","path":"'$ext':manager","value":"26118915-6090-4610-87e4-49d8ca9f808d"}]}'
expect department "$(field ".\"$ext\".department")" Finance
scim "a PATCH without path, keys as paths" PATCH "/Users/$id" 200 "$patch"'[
 {"op":"Replace","value":{"name.givenName":"Entrée","'$ext':department":"Sales"}}]}'
expect givenName "$(field .name.givenName)" Entrée

group="Entra group $suffix"
scim "look up the group" GET "/Groups?excludedAttributes=members&filter=$(q "displayName eq \"$group\"")" 200
scim "create the group" POST /Groups 201 '{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"externalId":"'$object_id'","displayName":"'"$group"'","meta":{"resourceType":"Group"}}'
gid=$(field .id)
scim "add the member" PATCH "/Groups/$gid" 204 "$patch"'[{"op":"Add","path":"members","value":[{"$ref":null,"value":"'$id'"}]}]}'
scim "is the user a member" GET "/Groups?excludedAttributes=members&filter=$(q "id eq \"$gid\" and members[value eq \"$id\"]")" 200
expect totalResults "$(field .totalResults)" 1
scim "remove the member" PATCH "/Groups/$gid" 204 "$patch"'[{"op":"Remove","path":"members","value":[{"$ref":null,"value":"'$id'"}]}]}'
scim "disable the user (boolean as a string)" PATCH "/Users/$id" 200 "$patch"'[{"op":"Replace","path":"active","value":"False"}]}'
expect active "$(field .active)" false
scim "delete the group" DELETE "/Groups/$gid" 204
echo "Entra ID's sequence passed: $user_name is in admit, disabled."
