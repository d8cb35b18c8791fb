package events

import "embed"

// Schemas holds the JSON Schema (draft 2020-12) of every event type, one
// file each, named after the type: schemas/user.created.json, ...
//
//go:embed schemas/*.json
var Schemas embed.FS
