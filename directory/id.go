package directory

import "github.com/google/uuid"

// newID returns a time-ordered random identifier (UUIDv7): ordered so that
// inserts land at the end of primary-key indexes, random enough (74 bits)
// that identifiers cannot be guessed from one another.
func newID() string {
	return uuid.Must(uuid.NewV7()).String()
}

// isID reports whether s is written as an id (a UUID).
func isID(s string) bool {
	_, err := uuid.Parse(s)
	return err == nil
}
