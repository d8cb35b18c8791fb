// Package scim is admit's SCIM 2.0 server (RFC 7643, RFC 7644) at
// /scim/v2: identity providers push an account's users through it. The
// bearer token selects the account (directory.AuthenticateSCIM); every
// operation goes to package directory, which keeps a SCIM user as the
// account's membership of a person.
//
// Filters are parsed here (with scim2/filter-parser) into a
// directory.Filter that the store runs as SQL: the elimity-com/scim
// library's own filter validation refuses externalId and value paths.
//
// A PATCH is applied inside directory's transaction, to the resource as
// stored then (directory.Service.PatchSCIMUser), never to a copy read
// before it. Every directory error a request meets is answered by its kind
// in scimStatus, the one translation of kinds to SCIM statuses.
package scim
