package directory

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"image"
	_ "image/gif"  // registers GIF with image.DecodeConfig
	_ "image/jpeg" // registers JPEG
	_ "image/png"  // registers PNG
	"net/url"
	"regexp"
	"time"

	_ "golang.org/x/image/webp" // registers WebP
)

// Logo is an image an account uploaded as its logo. admit serves it itself
// at LogoPath, so pages and emails need no outside host.
type Logo struct {
	AccountID   string
	Hash        string // hex SHA-256 of Data: the logo's name in its URL
	ContentType string // from the bytes, never from the upload's name or header
	Data        []byte
	Width       int
	Height      int
	CreatedAt   time.Time
}

// Limits of an uploaded logo. A logo is shown at most 160×40 pixels, so
// these are generous; MaxLogoSide also keeps decoding an "image bomb" (a
// few kilobytes claiming to be 60000×60000 pixels) from costing memory.
const (
	MaxLogoBytes = 256 << 10
	MaxLogoSide  = 2048
)

// sniffLogo names the format of data by its leading bytes (the signatures
// WHATWG MIME Sniffing lists for these images) and gives its Content-Type
// and the name image.DecodeConfig gives it. SVG is not among them: it is a
// document that can carry script.
func sniffLogo(data []byte) (contentType, format string, ok bool) {
	switch {
	case bytes.HasPrefix(data, []byte("\x89PNG\r\n\x1a\n")):
		return "image/png", "png", true
	case bytes.HasPrefix(data, []byte("\xff\xd8\xff")):
		return "image/jpeg", "jpeg", true
	case bytes.HasPrefix(data, []byte("GIF87a")), bytes.HasPrefix(data, []byte("GIF89a")):
		return "image/gif", "gif", true
	case len(data) >= 14 && string(data[:4]) == "RIFF" && string(data[8:14]) == "WEBPVP":
		return "image/webp", "webp", true
	}
	return "", "", false
}

// CheckLogo sniffs data and returns its Content-Type and size, or an
// Invalid error saying what is wrong. The type comes from the bytes and
// must agree with what the image decoder finds; the dimensions are read
// from the header and checked before the whole image is decoded.
func CheckLogo(data []byte) (contentType string, width, height int, err error) {
	switch {
	case len(data) == 0:
		return "", 0, 0, InvalidError("choose an image file to upload")
	case len(data) > MaxLogoBytes:
		return "", 0, 0, InvalidError(fmt.Sprintf("the logo must be at most %d KiB", MaxLogoBytes>>10))
	}
	contentType, format, ok := sniffLogo(data)
	if !ok {
		return "", 0, 0, InvalidError("the logo must be a PNG, JPEG, WebP or GIF image (SVG is not accepted)")
	}
	cfg, got, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil || got != format {
		return "", 0, 0, InvalidError("the logo file is not a readable " + format + " image")
	}
	if cfg.Width < 1 || cfg.Height < 1 || cfg.Width > MaxLogoSide || cfg.Height > MaxLogoSide {
		return "", 0, 0, InvalidError(fmt.Sprintf("the logo must be at most %d×%d pixels; this one is %d×%d", MaxLogoSide, MaxLogoSide, cfg.Width, cfg.Height))
	}
	if _, _, err := image.Decode(bytes.NewReader(data)); err != nil {
		return "", 0, 0, InvalidError("the logo file is not a readable " + format + " image")
	}
	return contentType, cfg.Width, cfg.Height, nil
}

// LogoPath is where admit serves an account's uploaded logo. The hash in
// the path lets browsers and mail clients keep it for good: a new logo
// has a new address.
func LogoPath(slug, hash string) string {
	return "/branding/" + url.PathEscape(slug) + "/logo/" + hash
}

var logoPathPattern = regexp.MustCompile(`^/branding/[a-z0-9-]+/logo/[0-9a-f]{64}$`)

// ValidLogoSource reports whether src may be put in an <img>: an https
// logo URL, or the path of an uploaded logo.
func ValidLogoSource(src string) bool {
	return logoPathPattern.MatchString(src) || (src != "" && len(Branding{LogoURL: src}.Validate()) == 0)
}

// LogoSource is the logo pages show: the uploaded logo when there is one
// (it wins over the logo URL, which stays stored as the fallback once the
// upload is removed), else the logo URL; "" for none.
func (a Account) LogoSource() string {
	if a.Branding.Logo != "" {
		return LogoPath(a.Slug, a.Branding.Logo)
	}
	return a.Branding.LogoURL
}

// UploadLogo checks data and makes it the account's logo, replacing any
// earlier upload. Audited as account.logo_uploaded.
func (s *Service) UploadLogo(ctx context.Context, adm Admin, data []byte) (Account, error) {
	if err := adm.ready(ManageBranding); err != nil {
		return Account{}, err
	}
	contentType, width, height, err := CheckLogo(data)
	if err != nil {
		return Account{}, err
	}
	sum := sha256.Sum256(data)
	logo := Logo{AccountID: adm.Account.ID, Hash: hex.EncodeToString(sum[:]), ContentType: contentType, Data: data, Width: width, Height: height, CreatedAt: s.clock()}
	var a Account
	err = s.store.Tx(ctx, func(tx Store) error {
		if a, err = tx.FindAccount(ctx, adm.Account.ID); err != nil {
			return err
		}
		if err := tx.PutLogo(ctx, logo); err != nil {
			return err
		}
		a.Branding.Logo, a.UpdatedAt = logo.Hash, s.clock()
		if err := tx.UpdateAccount(ctx, a); err != nil {
			return err
		}
		return s.record(ctx, tx, change{
			accountID: a.ID, actor: adm.Actor(), action: "account.logo_uploaded", targetType: "account", targetID: a.ID,
			data: map[string]any{"sha256": logo.Hash, "content_type": contentType, "bytes": len(data), "width": width, "height": height},
		})
	})
	if err != nil {
		return Account{}, fmt.Errorf("upload logo: %w", err)
	}
	return a, nil
}

// RemoveLogo deletes the account's uploaded logo; the logo URL, if any,
// shows again. Audited as account.logo_removed; NotFound when there is none.
func (s *Service) RemoveLogo(ctx context.Context, adm Admin) (Account, error) {
	if err := adm.ready(ManageBranding); err != nil {
		return Account{}, err
	}
	var a Account
	err := s.store.Tx(ctx, func(tx Store) error {
		var err error
		if a, err = tx.FindAccount(ctx, adm.Account.ID); err != nil {
			return err
		}
		if a.Branding.Logo == "" {
			return NotFoundError("This account has no uploaded logo.")
		}
		if err := tx.DeleteLogo(ctx, a.ID); err != nil && KindOf(err) != NotFound {
			return err
		}
		old := a.Branding.Logo
		a.Branding.Logo, a.UpdatedAt = "", s.clock()
		if err := tx.UpdateAccount(ctx, a); err != nil {
			return err
		}
		return s.record(ctx, tx, change{
			accountID: a.ID, actor: adm.Actor(), action: "account.logo_removed", targetType: "account", targetID: a.ID,
			data: map[string]any{"sha256": old},
		})
	})
	if err != nil {
		return Account{}, fmt.Errorf("remove logo: %w", err)
	}
	return a, nil
}

// AccountLogo returns the uploaded logo of the account with slug, when its
// hash is hash: the logo is public (emails show it), but only under the
// account's own current address, so another account's hash or an old one
// is NotFound.
func (s *Service) AccountLogo(ctx context.Context, slug, hash string) (Logo, error) {
	notFound := NotFoundError("There is no logo at this address.")
	a, err := s.store.FindAccountBySlug(ctx, slug)
	if KindOf(err) == NotFound || (err == nil && (a.Branding.Logo == "" || a.Branding.Logo != hash)) {
		return Logo{}, notFound
	}
	if err != nil {
		return Logo{}, err
	}
	logo, err := s.store.FindLogo(ctx, a.ID)
	if err != nil {
		return Logo{}, err
	}
	if logo.Hash != hash {
		return Logo{}, notFound
	}
	return logo, nil
}
