package gate

// WithoutReuse makes h ask the directory on every request, for the
// benchmark's measure of the work FreshFor saves.
func WithoutReuse(h *Handler) { h.fresh = false }
