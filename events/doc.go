// Package events delivers the directory's lifecycle events to the
// platform: it publishes what the directory wrote to its outbox (numbering
// each event for the feed and queueing a delivery for each webhook that
// wants it), delivers those over the guarded outbound client (package
// fetch) signed as Standard Webhooks (https://www.standardwebhooks.com),
// and sweeps events older than the retention.
//
// What an event says, which webhook wants it, when a failing delivery is
// retried and when an endpoint is disabled are decided in package
// directory; this package owns the wire: signatures, headers, concurrency.
// The event types and their JSON Schemas are in schemas/; docs/events.md
// documents them.
//
// Every replica runs a Worker. Deliveries are claimed in the database (FOR
// UPDATE SKIP LOCKED on PostgreSQL), so each is sent by one worker at a
// time; a delivery may still be sent twice (a worker that dies after
// sending, before recording), which is why every attempt carries the same
// webhook-id: delivery is at least once, and receivers deduplicate.
package events
