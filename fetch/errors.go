package fetch

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
)

// The kinds of failure a caller may need to tell apart; test with
// errors.Is. None of them carries the response's body: an outbound fetch
// whose answer came back in an error message would let whoever chooses the
// URL read what admit can reach.
var (
	// ErrRefused: the request was not sent, by the outbound rules (an
	// address or a plain-http URL the operator did not allow).
	ErrRefused = errors.New("refused by the outbound rules")
	// ErrTooLarge: the answer is larger than the request's cap.
	ErrTooLarge = errors.New("answer too large")
	// ErrTimeout: no complete answer in time.
	ErrTimeout = errors.New("no answer in time")
	// ErrRedirects: more redirects than MaxRedirects.
	ErrRedirects = errors.New("too many redirects")
	// ErrStatus: the server answered with a status other than 2xx.
	ErrStatus = errors.New("unexpected status")
)

// RefusedError is a request that was not sent: to an address the rules
// refuse (Addr set), or over plain http to a host not allowed (Addr not
// valid).
type RefusedError struct {
	Host string
	// Addr is the refused address; Network the refused range it is in,
	// when it is in one (a metadata address is refused on its own).
	Addr    netip.Addr
	Network netip.Prefix
	Reason  string
}

func (e *RefusedError) Error() string {
	if !e.Addr.IsValid() {
		return fmt.Sprintf("refused to fetch from %s: %s", e.Host, e.Reason)
	}
	for_ := ""
	if e.Host != "" && e.Host != e.Addr.String() {
		for_ = " (" + e.Host + ")"
	}
	return fmt.Sprintf("refused to connect to %s%s: %s, not in the outbound allow list", e.Addr, for_, e.Reason)
}

func (e *RefusedError) Is(target error) bool { return target == ErrRefused }

// Public words the refusal for someone who chose the URL but must not
// learn how admit's network resolves names (an account's owner, of a
// webhook of theirs): "" when the refused address came from a name, since
// telling that refusal from a name that does not resolve would say which
// internal names exist.
func (e *RefusedError) Public() string {
	if !e.Addr.IsValid() {
		return "refused: " + e.Reason
	}
	if e.Host != "" && e.Host != e.Addr.String() {
		return ""
	}
	return "refused: the endpoint's address is one admit does not send to (private, loopback, link-local or cloud metadata)"
}

// Allowance is the allow-list entry that would let the request through:
// the refused address alone, or for plain http the host. It is empty for
// a cloud metadata address, which no identity provider lives at.
func (e *RefusedError) Allowance() string {
	if e.Addr.IsValid() && slices.Contains(metadataAddrs, e.Addr) {
		return ""
	}
	addr := e.Addr
	if !addr.IsValid() {
		ip, err := netip.ParseAddr(e.Host)
		if err != nil {
			return e.Host
		}
		addr = ip.Unmap().WithZone("")
	}
	return netip.PrefixFrom(addr, addr.BitLen()).String()
}

// StatusError is an answer with a status other than 2xx.
type StatusError struct {
	URL  string
	Code int
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("%s answered %d", e.URL, e.Code)
}

func (e *StatusError) Is(target error) bool { return target == ErrStatus }

// TooLargeError is an answer longer than Limit bytes.
type TooLargeError struct{ Limit int64 }

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("the answer is larger than %s", size(e.Limit))
}

func (e *TooLargeError) Is(target error) bool { return target == ErrTooLarge }

func size(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}
