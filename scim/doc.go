// Package scim is admit's SCIM 2.0 server (RFC 7643, RFC 7644) at
// /scim/v2: identity providers push an account's users through it. The
// bearer token selects the account (directory.AuthenticateSCIM), checked
// against the database on every request; every operation goes to package
// directory, which keeps a SCIM user as the account's membership of a
// person.
//
// Routes (Handler.Register) are admit's own, on the one ServeMux:
//
//	GET, POST             /scim/v2/Users, /scim/v2/Groups
//	GET, PUT, PATCH, DELETE /scim/v2/Users/{id}, /scim/v2/Groups/{id}
//	GET                   /scim/v2/ServiceProviderConfig, /Schemas, /ResourceTypes
//
// Each handler returns an error, which serve answers once in the SCIM error
// schema: a directory error by its kind (scimStatus, the one translation of
// kinds to statuses), a refusal of the protocol's own as a problem. A body
// is read and decoded once and a response encoded once. elimity-com/scim
// supplies the schemas, validates bodies against them (validate.go) and
// serves the /Schemas and /ResourceTypes documents.
//
// Filters and PATCH paths are read here (readFilter, readPath, into
// scim2/filter-parser's types: that library's parser recurses without
// bound, takes seconds over a megabyte and names no position in its
// errors). A filter becomes a directory.Filter that the store runs as SQL,
// within directory's bounds (directory.MaxFilterTerms): elimity-com/scim's
// own filter validation refuses externalId and value paths.
//
// A PATCH is applied inside directory's transaction, to the resource as
// stored then (directory.Service.PatchSCIMUser), never to a copy read
// before it.
package scim
