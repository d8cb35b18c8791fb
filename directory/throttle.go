package directory

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"strings"
	"time"
)

// Sign-in throttling. Failures are rows in the store, so every replica
// sees the same counts.
//
// A browser without a device token for the email is held to two limits:
// maxEmailFailures per person (their lockout), which is what stops
// guessing one person's password from many addresses, and maxAddrFailures
// per client address, which is what stops one client spraying many
// addresses. The lockout counts against the person's id when the address
// is theirs, so a new address (an admin's rename) neither clears a
// person's count nor hands it to the address's next holder; and against
// the address when it is nobody's, so the answer is the same either way.
//
// An attempt is counted before its password is checked, and taken back
// when it succeeds or is refused (chargeAttempt): counting only after the
// check let a burst of concurrent guesses all pass an empty count, dozens
// of checked guesses where five were allowed. A refused attempt leaves no
// row, so a stranger hammering a lockout writes nothing that lasts (DESIGN
// rule 12): at most the limit plus the requests in flight, per key.
// That per-email limit is also what lets a stranger lock a person out, so a
// browser that has signed in as the person before carries a device token
// (OWASP, "Slow Down Online Guessing Attacks with Device Cookies") and is
// held only to its own limit, maxDeviceFailures, and to the limit of all
// the person's device tokens together, maxPersonDeviceFailures: the
// stranger's failures do not count against either, and stolen tokens buy
// no more than that.
const (
	signInWindow      = 15 * time.Minute
	maxEmailFailures  = 5
	maxAddrFailures   = 50
	maxDeviceFailures = 5
	// maxPersonDeviceFailures bounds the failures of all of a person's
	// device tokens together: each sign-in issues a new one, so whoever
	// copied a browser's cookie after each of the person's sign-ins (a
	// shared computer) would otherwise have maxDeviceFailures per copy.
	// Twice a token's own, so that one copied token cannot lock the
	// person's other browsers out.
	maxPersonDeviceFailures = 2 * maxDeviceFailures
	// DeviceTokenLifetime is how long a device token exempts its browser
	// from the email-wide lockout after the sign-in that issued it.
	DeviceTokenLifetime = 365 * 24 * time.Hour
	// refundTimeout bounds taking an attempt back once its client has
	// hung up.
	refundTimeout = 30 * time.Second
)

// Client is where a sign-in attempt comes from.
type Client struct {
	// Addr is the client's network address, as the connection shows it.
	Addr string
	// Device is the device token the browser presented, if any: the one
	// a successful sign-in returned in SignedIn.Device.
	Device string
}

// throttle is one failure count a sign-in attempt is held to.
type throttle struct {
	key   string
	limit int
}

// throttlesFor lists the counts an attempt to sign in as the person u,
// found by an address whose key is emailKey, is held to; the first is the
// lockout, the one a success clears and the audit log reports.
//
// Without a device token, that is the person's lockout and the client
// address's count. With a valid one, it is the token's own count and the
// count of all the person's tokens, and no count of anyone else's: only
// the person's password gets a token (a sign-in, a reset), so only the
// person, or whoever copied their cookies, can add to these.
//
// Not a count per address, as there was ("addr-device:"): anyone with an
// account gets tokens of their own by signing in, as many as they like,
// and behind a shared address (a NAT, an office, a proxy that
// ADMIT_TRUSTED_PROXIES does not name) their failures with them filled
// that count and refused every other person's device token there, which
// is the lockout by strangers that device tokens exist to prevent. A
// per-address bound on tokens held nothing back either: tokens of one
// person guess only that person's password, and the person's count
// bounds them from every address alike.
func (s *Service) throttlesFor(u User, emailKey string, from Client, now time.Time) []throttle {
	// A token opens only with the hash of a password that signed in (or
	// was set by a reset), so only for a person; u.ID is checked too, so
	// that no key is ever "devices:".
	if nonce, ok := s.openDeviceToken(from.Device, deviceSubject(emailKey, u.PasswordHash), u.DevicesEndedAt, now); ok && u.ID != "" {
		return []throttle{{"device:" + nonce, maxDeviceFailures}, {"devices:" + u.ID, maxPersonDeviceFailures}}
	}
	return []throttle{lockoutOf(u, emailKey), {"addr:" + addressKey(from.Addr), maxAddrFailures}}
}

// deviceSubject is what a device token is bound to: the email and the
// password it signed in with. A token dies with the password, so tokens
// gathered with a password that was later changed, reset or revoked (a
// planted one, say) exempt from nothing.
func deviceSubject(emailKey, passwordHash string) string {
	return emailKey + "\x00" + hashToken("admit device subject\x00"+passwordHash)
}

// lockoutOf is the lockout of sign-ins as the person u, found by an
// address whose key is emailKey: the person's own when the address is
// theirs (u.ID set), the address's when it is nobody's.
func lockoutOf(u User, emailKey string) throttle {
	if u.ID != "" {
		return throttle{"user:" + u.ID, maxEmailFailures}
	}
	return throttle{"email:" + emailKey, maxEmailFailures}
}

// addressKey is the client an address belongs to, as throttle keys name
// it, and the one place that decides which addresses count as one client. An IPv6 /64 is one:
// it is the smallest block a network hands out, and a host picks the rest
// of its address freely (RFC 4291, RFC 8981), so counting addresses one by
// one would give each machine 2^64 fresh starts. An IPv4-mapped IPv6
// address is the IPv4 address it maps. Anything that is not an IP address
// (a Unix socket) is its own key.
func addressKey(addr string) string {
	a, err := netip.ParseAddr(addr)
	if err != nil {
		return addr
	}
	a = a.Unmap()
	if a.Is4() {
		return a.String()
	}
	p, _ := a.Prefix(64) // cannot fail for IPv6; the zone is dropped
	return p.String()
}

// chargeAttempt counts an attempt against each of its throttles before its
// password is checked, and refuses it (taking the count back) when that
// passes a limit. Each count includes the attempt's own row, written and
// committed first: of attempts racing for the last places, the k-th row
// written is counted by its own attempt with at least k-1 others, so no
// more than the limit pass, on any replica. counts are the throttles'
// counts, this attempt included. The caller keeps the rows of a failure
// and takes back (refund) those of anything else.
func (s *Service) chargeAttempt(ctx context.Context, now time.Time, throttles []throttle) (attempt string, counts []int, err error) {
	attempt = newID()
	counts = make([]int, len(throttles))
	for i, t := range throttles {
		if err := s.store.AddSignInFailure(ctx, t.key, attempt, now); err != nil {
			return "", nil, errors.Join(err, s.refund(ctx, attempt, throttles[:i]))
		}
		n, oldest, err := s.store.CountSignInFailures(ctx, t.key, now.Add(-signInWindow))
		if err == nil && n > t.limit {
			err = throttled(oldest, now)
		}
		if err != nil {
			return "", nil, errors.Join(err, s.refund(ctx, attempt, throttles[:i+1]))
		}
		counts[i] = n
	}
	return attempt, counts, nil
}

// refund takes back what chargeAttempt counted for an attempt that did
// not fail: a success, a refusal, an error of ours.
//
// It goes on when the client hangs up: its error is often that hang-up
// (the request's context ended while the attempt waited for its count or
// a slot to hash in), and a row left then would be a failure that never
// was, and a write that costs a stranger nothing (no password hashed) and
// outlives the request (DESIGN rule 12).
func (s *Service) refund(ctx context.Context, attempt string, throttles []throttle) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), refundTimeout)
	defer cancel()
	for _, t := range throttles {
		if err := s.store.DeleteSignInAttempt(ctx, t.key, attempt); err != nil {
			return err
		}
	}
	return nil
}

// throttled is the refusal of an attempt past a limit whose oldest
// counted failure was at oldest.
func throttled(oldest, now time.Time) error {
	wait := oldest.Add(signInWindow).Sub(now)
	minutes := max(1, int(math.Ceil(wait.Minutes())))
	return &Error{Kind: Throttled, Message: fmt.Sprintf("Too many failed sign-ins. Try again in %d minute%s.", minutes, plural(minutes))}
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// failSignIn is the answer to a wrong password: the attempt stays counted
// (chargeAttempt wrote it, counts are the throttles' counts with it). For
// a person's address, the answer carries what the audit log is to say
// (RecordFailedSignIn): the lockout's count, or the count of all the
// person's device tokens when this failure is the one that fills it (a
// lockout of every device of theirs, which no one token's count shows).
func failSignIn(u User, throttles []throttle, counts []int) error {
	if u.ID == "" {
		return errBadCredentials
	}
	f := &signInFailure{user: u, lockout: throttles[0], failures: counts[0]}
	if len(throttles) > 1 && strings.HasPrefix(throttles[1].key, "devices:") && counts[1] == throttles[1].limit {
		f.lockout, f.failures = throttles[1], counts[1]
	}
	return f
}

// signInFailure is a wrong password for a person's address. It is
// errBadCredentials to everyone but RecordFailedSignIn.
type signInFailure struct {
	user     User
	lockout  throttle
	failures int
}

func (f *signInFailure) Error() string { return errBadCredentials.Error() }
func (f *signInFailure) Unwrap() error { return errBadCredentials }

// RecordFailedSignIn records the failed sign-in that err (from SignIn)
// reports in the audit log of the person's accounts: user.locked_out when
// it reached their lockout (their own, their device's, or that of all
// their devices together),
// user.sign_in_failed otherwise. Any other err records nothing.
//
// SignIn leaves this to its caller, to do after answering: only a
// person's address costs these writes (a transaction, about as long as a
// password check on PostgreSQL), so an answer that waited for them told
// by its timing that the address has an account.
func (s *Service) RecordFailedSignIn(ctx context.Context, err error) error {
	var f *signInFailure
	if !errors.As(err, &f) {
		return nil
	}
	u := f.user
	action := "user.sign_in_failed"
	if f.failures == f.lockout.limit {
		action = "user.locked_out"
	}
	data := map[string]any{"failures": f.failures}
	switch {
	case strings.HasPrefix(f.lockout.key, "device:"):
		data["device"] = true
	case strings.HasPrefix(f.lockout.key, "devices:"):
		data["device"] = true
		data["every_device"] = true
	}
	rerr := s.store.Tx(ctx, func(tx Store) error {
		ms, err := tx.FindMembershipsOfUser(ctx, u.ID)
		if err != nil {
			return err
		}
		for _, m := range ms {
			if err := s.record(ctx, tx, change{
				accountID: m.AccountID, actor: Actor{Source: SourceUser, ID: u.ID, Name: u.Email},
				action: action, targetType: "user", targetID: u.ID, data: data,
			}); err != nil {
				return err
			}
		}
		return nil
	})
	if rerr != nil {
		return fmt.Errorf("record failed sign-in: %w", rerr)
	}
	return nil
}

// A device token is a random nonce and the time it was issued, with an
// HMAC that binds both to one email key under the device key. It holds no
// email: the MAC is checked against the email of each attempt, so a token
// for one email is no token at all for another, and the token tells
// whoever reads it nothing about whose it is.
const (
	deviceNonceBytes   = 16
	devicePayloadBytes = deviceNonceBytes + 8
	maxDeviceTokenLen  = 128
)

// issueDeviceToken makes a new device token for the email key.
func (s *Service) issueDeviceToken(emailKey string, now time.Time) string {
	payload := make([]byte, devicePayloadBytes)
	_, _ = rand.Read(payload[:deviceNonceBytes])
	binary.BigEndian.PutUint64(payload[deviceNonceBytes:], uint64(now.Unix()))
	enc := base64.RawURLEncoding
	return enc.EncodeToString(payload) + "." + enc.EncodeToString(s.deviceMAC(emailKey, payload))
}

// openDeviceToken returns the nonce of a token issued for the email key
// within DeviceTokenLifetime, and after ended (when the person signed out
// everywhere) if that is set; ok is false for anything else.
func (s *Service) openDeviceToken(token, emailKey string, ended *time.Time, now time.Time) (nonce string, ok bool) {
	if token == "" || len(token) > maxDeviceTokenLen {
		return "", false
	}
	p, m, found := strings.Cut(token, ".")
	enc := base64.RawURLEncoding
	payload, err1 := enc.DecodeString(p)
	mac, err2 := enc.DecodeString(m)
	// The decoder skips CR and LF and tolerates stray bits: only the one
	// spelling issueDeviceToken writes is a token.
	if !found || err1 != nil || err2 != nil || len(payload) != devicePayloadBytes ||
		enc.EncodeToString(payload) != p || enc.EncodeToString(mac) != m || !s.validDeviceMAC(mac, emailKey, payload) {
		return "", false
	}
	issued := time.Unix(int64(binary.BigEndian.Uint64(payload[deviceNonceBytes:])), 0)
	if now.Sub(issued) >= DeviceTokenLifetime {
		return "", false
	}
	// A token holds its time in whole seconds: one issued in the second
	// the person signed out everywhere may be from before, and is ended.
	if ended != nil && !issued.After(ended.Truncate(time.Second)) {
		return "", false
	}
	return enc.EncodeToString(payload[:deviceNonceBytes]), true
}

// validDeviceMAC checks a device token's MAC with the device key, or an
// accepted one while the server key is rotated.
func (s *Service) validDeviceMAC(mac []byte, emailKey string, payload []byte) bool {
	if hmac.Equal(mac, s.deviceMAC(emailKey, payload)) {
		return true
	}
	for _, k := range s.acceptedDeviceKeys {
		if hmac.Equal(mac, deviceMAC(k, emailKey, payload)) {
			return true
		}
	}
	return false
}

func (s *Service) deviceMAC(emailKey string, payload []byte) []byte {
	return deviceMAC(s.deviceKey, emailKey, payload)
}

func deviceMAC(key []byte, emailKey string, payload []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("admit device\x00" + emailKey + "\x00"))
	m.Write(payload)
	return m.Sum(nil)
}
