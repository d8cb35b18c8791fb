package mail

// Message is one email, rendered and ready to send.
type Message struct {
	// ID is stable across every attempt to send this message; it becomes
	// the Message-ID header, so a receiver (or a person) can recognise a
	// repeat after a crash mid-send.
	ID      string
	From    Address
	To      string
	ReplyTo string // optional
	Subject string
	Text    string // the plain-text part; must read well on its own
	HTML    string // the HTML part
}

// Address is a mailbox with an optional display name.
type Address struct {
	Name  string
	Email string
}
