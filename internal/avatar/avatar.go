// Package avatar is the profile picture feature: uploading (streamed,
// re-encoded by imagesafe), removing and serving pictures. It imports the
// kit, internal/account and ring 1; never another feature or internal/app.
package avatar

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/gatehouse/gatehouse/csrf"
	"github.com/gatehouse/gatehouse/imagesafe"
	"github.com/gatehouse/gatehouse/internal/account"
	"github.com/gatehouse/gatehouse/internal/kit"
	"github.com/gatehouse/gatehouse/ratelimit"
)

// Profile pictures: POST /account/avatar uploads (or replaces) the signed-in
// user's picture, POST /account/avatar/delete removes it, and
// GET /avatars/{id} serves it to anyone. See docs/uploads.md.

// Limits of profile pictures besides the AVATAR_MAX_BYTES setting.
const (
	// avatarUploadLimit is how many uploads one user may make.
	avatarUploadLimit = "10/hour"
	// avatarMaxSide and avatarMaxPixels bound the declared dimensions,
	// checked before decoding: 4096 pixels a side, 12.6 megapixels in all
	// (a 12 MP phone photo fits). Decoding a progressive JPEG costs up to
	// about 15 bytes a pixel, so one decode stays under ~190 MiB.
	avatarMaxSide   = 4096
	avatarMaxPixels = 4096 * 3072
	// OutputSize is the side of the stored square.
	OutputSize = 256
	// avatarDecoders is how many pictures are decoded at once, and
	// avatarQueueWait how long an upload waits for its turn before 503.
	avatarDecoders  = 1
	avatarQueueWait = 10 * time.Second
)

// Headers of a served picture.
const (
	avatarCSP          = "default-src 'none'; sandbox"
	avatarCacheControl = "public, max-age=31536000, immutable"
)

// Config is what New needs.
type Config struct {
	// Kit is the server's page kit.
	Kit *kit.Kit
	// Store keeps the pictures.
	Store account.AvatarStore
	// MaxBytes bounds an uploaded picture (AVATAR_MAX_BYTES); 0 or less
	// is imagesafe's default.
	MaxBytes int64
	// Now is the clock.
	Now func() time.Time
}

// Feature holds the picture store and the limits of uploads.
type Feature struct {
	k      *kit.Kit
	now    func() time.Time
	store  account.AvatarStore
	limit  ratelimit.Limit   // uploads per user
	opts   imagesafe.Options // what Process accepts and makes
	decode chan struct{}     // a slot per concurrent decode
}

// New builds the feature.
func New(c Config) (*Feature, error) {
	limit, err := ratelimit.ParseLimit(avatarUploadLimit)
	if err != nil {
		return nil, fmt.Errorf("avatar upload limit: %w", err)
	}
	maxBytes := c.MaxBytes
	if maxBytes <= 0 {
		maxBytes = imagesafe.DefaultMaxBytes
	}
	return &Feature{
		k: c.Kit, now: c.Now, store: c.Store, limit: limit,
		opts: imagesafe.Options{MaxBytes: maxBytes, MaxWidth: avatarMaxSide, MaxHeight: avatarMaxSide,
			MaxPixels: avatarMaxPixels, OutputSize: OutputSize},
		decode: make(chan struct{}, avatarDecoders),
	}, nil
}

// Store is where the pictures are kept.
func (f *Feature) Store() account.AvatarStore { return f.store }

// SetUploadLimit replaces the per-user limit on uploads (for tests that
// upload many times).
func (f *Feature) SetUploadLimit(l ratelimit.Limit) { f.limit = l }

// Upload reads a multipart upload, checks its CSRF token, re-encodes
// the picture and stores it as the user's picture, replacing the old one.
// Nothing is stored unless every step succeeds.
//
// It must be routed with its own chain (security headers, session, user,
// sign-in), not behind the kit's FormGuard and CSRF middleware: that reads
// a form token with PostFormValue, which for a multipart body parses the
// whole body before any handler runs, so a body over the limit would fail
// as a missing token (403) instead of 413. Upload streams the body and
// checks the token itself, with the same Protector, from the X-CSRF-Token
// header or the csrf_token part.
func (f *Feature) Upload(w http.ResponseWriter, r *http.Request) {
	u, _ := kit.UserFrom(r.Context())

	// A request from another site, or a browser without our CSRF cookie,
	// is refused before its body is read: the probe's token is never
	// valid, so only these two reasons matter here.
	if err := f.k.CheckCSRFToken(r, "probe"); errors.Is(err, csrf.ErrCrossOrigin) || errors.Is(err, csrf.ErrCookieMissing) {
		f.k.CSRFFailed(w, r)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, kit.MaxUploadBytes)
	// Whatever the answer, read the rest of the (bounded) body so that a
	// browser still sending it sees the answer rather than a reset.
	defer func() { _, _ = io.Copy(io.Discard, r.Body) }()

	mr, err := r.MultipartReader()
	if err != nil {
		f.avatarRefused(w, r, http.StatusUnsupportedMediaType, "Send the picture as multipart/form-data, in the field “avatar”.")
		return
	}
	verified := false
	verify := func(token string) error {
		if verified {
			return nil
		}
		if err := f.k.CheckCSRFToken(r, token); err != nil {
			return err
		}
		verified = true
		return nil
	}
	if token := r.Header.Get(csrf.HeaderName); token != "" {
		if err := verify(token); err != nil {
			f.k.CSRFFailed(w, r)
			return
		}
	}
	// The token part, which a browser sends first, is checked as soon as it
	// is read.
	form, err := readAvatarForm(mr, f.opts.MaxBytes, verify)
	if err == nil {
		err = verify(form.token)
	}
	if err != nil {
		f.avatarFormFailed(w, r, u, verified, err)
		return
	}

	if !f.allowAvatarUpload(w, r, u) {
		return
	}

	img, err := f.process(r.Context(), form.image)
	form.image = nil
	if err != nil {
		f.avatarImageFailed(w, r, u, err)
		return
	}
	a := account.Avatar{ID: account.NewAvatarID(), UserID: u.ID, ContentType: img.ContentType,
		SHA256: img.SHA256, Data: img.Data, CreatedAt: f.now()}
	if err := f.store.PutAvatar(r.Context(), a); err != nil {
		f.k.Fail(w, r, err)
		return
	}
	f.avatarAudit(r, account.EventAvatarUpload, u, account.OutcomeSuccess, fmt.Sprintf("%s %dx%d from %s, %d bytes", img.ContentType, img.Width, img.Height, img.Source, len(img.Data)))
	kit.Flash(r, "success", "Your picture was updated.")
	http.Redirect(w, r, "/account", http.StatusSeeOther)
}

// allowAvatarUpload consumes one upload of the user's limit; otherwise it
// answers 429 (or 503 when the limiter is down: fail closed).
func (f *Feature) allowAvatarUpload(w http.ResponseWriter, r *http.Request, u account.User) bool {
	limiter, key := f.k.Limiter(), "avatar:user:"+strconv.FormatInt(u.ID, 10)
	res, err := limiter.Allow(r.Context(), key, f.limit)
	if err != nil {
		kit.Logger(r.Context()).Error("rate limiter failed", "err", err)
		w.Header().Set("Retry-After", "5")
		f.k.ErrorPage(w, r, http.StatusServiceUnavailable, "")
		return false
	}
	ratelimit.WriteHeaders(w, "avatar", res)
	if res.Allowed {
		return true
	}
	f.k.RateLimited("avatar upload per user")
	// One audit record a minute at most: refusals must not fill the trail.
	if rec, err := limiter.Allow(r.Context(), key+":audit", avatarRefusalAudit); err == nil && rec.Allowed {
		_ = f.k.Accounts().Record(r.Context(), account.Event{Name: "ratelimit.refused", Outcome: account.OutcomeDenied,
			UserID: u.ID, IP: f.k.IP(r), UserAgent: r.UserAgent(), Detail: "avatar upload per user"})
	}
	f.k.TooManyAfter(w, r, res.RetryAfter)
	return false
}

// avatarRefusalAudit bounds the audit records of refused uploads.
var avatarRefusalAudit = ratelimit.PerMinute(1)

// errAvatarBusy means no decoder was free in time.
var errAvatarBusy = errors.New("avatar: all decoders busy")

// process re-encodes an uploaded picture, at most avatarDecoders at a time:
// decoding may allocate about 15 bytes per declared pixel.
func (f *Feature) process(ctx context.Context, in []byte) (imagesafe.Result, error) {
	ctx, cancel := context.WithTimeout(ctx, avatarQueueWait)
	defer cancel()
	select {
	case f.decode <- struct{}{}:
	case <-ctx.Done():
		return imagesafe.Result{}, errAvatarBusy
	}
	defer func() { <-f.decode }()
	return imagesafe.Process(bytes.NewReader(in), f.opts)
}

// avatarFormFailed answers an upload whose body was refused.
func (f *Feature) avatarFormFailed(w http.ResponseWriter, r *http.Request, u account.User, verified bool, err error) {
	if errors.Is(err, kit.ErrCSRFToken) {
		f.k.CSRFFailed(w, r)
		return
	}
	status, msg := http.StatusBadRequest, "The upload could not be read. Please choose the picture again."
	switch {
	case errors.Is(err, errAvatarTooLarge):
		status, msg = http.StatusRequestEntityTooLarge, "The picture is larger than "+formatBytes(f.opts.MaxBytes)+". Please choose a smaller one."
	case errors.Is(err, errAvatarMissing), errors.Is(err, errAvatarEmpty):
		status, msg = http.StatusUnprocessableEntity, "Choose a picture to upload."
	case errors.Is(err, errAvatarTwice):
		msg = "Send one picture at a time."
	case errors.Is(err, kit.ErrRepeatedField):
		msg = "A field was sent more than once."
	case errors.Is(err, errAvatarUnexpected):
		msg = "The upload holds something other than one picture."
	}
	// Only a request that proved it comes from our form is audited: a
	// forged one must not fill the user's trail.
	if verified {
		f.avatarAudit(r, account.EventAvatarUpload, u, account.OutcomeFailure, err.Error())
	}
	f.avatarRefused(w, r, status, msg)
}

// avatarImageFailed answers a picture imagesafe refused (or could not get to).
func (f *Feature) avatarImageFailed(w http.ResponseWriter, r *http.Request, u account.User, err error) {
	status, msg := http.StatusUnprocessableEntity, "The picture could not be read: the file is damaged or incomplete."
	switch {
	case errors.Is(err, errAvatarBusy):
		w.Header().Set("Retry-After", "5")
		f.k.ErrorPage(w, r, http.StatusServiceUnavailable, "The server is busy. Please try again in a moment.")
		return
	case errors.Is(err, imagesafe.ErrTooLarge):
		status, msg = http.StatusRequestEntityTooLarge, "The picture is larger than "+formatBytes(f.opts.MaxBytes)+". Please choose a smaller one."
	case errors.Is(err, imagesafe.ErrUnsupportedType):
		status, msg = http.StatusUnsupportedMediaType, "Only PNG, JPEG and WebP pictures are accepted, recognised by their content whatever the file is called. SVG and other formats are refused."
	case errors.Is(err, imagesafe.ErrTooManyPixels):
		msg = fmt.Sprintf("The picture has too many pixels: at most %d a side and %.1f megapixels in all.", avatarMaxSide, float64(avatarMaxPixels)/1e6)
	case errors.Is(err, imagesafe.ErrBadDimensions), errors.Is(err, imagesafe.ErrCorrupt):
	default:
		kit.Logger(r.Context()).Warn("avatar processing", "err", err)
	}
	f.avatarAudit(r, account.EventAvatarUpload, u, account.OutcomeFailure, err.Error())
	f.avatarRefused(w, r, status, msg)
}

// avatarRefused shows the account page again with the message under the
// picture field. The stored picture is untouched.
func (f *Feature) avatarRefused(w http.ResponseWriter, r *http.Request, status int, msg string) {
	p := f.k.AccountPage(r, "Account")
	p.Errors[Field] = msg
	f.k.Show(w, r, status, "account", p)
}

// avatarAudit records a picture event of the user.
func (f *Feature) avatarAudit(r *http.Request, name account.EventName, u account.User, outcome account.Outcome, detail string) {
	_ = f.k.Accounts().Record(r.Context(), account.Event{Name: name, Outcome: outcome, UserID: u.ID,
		IP: f.k.IP(r), UserAgent: r.UserAgent(), Detail: detail})
}

// Delete removes the user's picture.
func (f *Feature) Delete(w http.ResponseWriter, r *http.Request) {
	u, _ := kit.UserFrom(r.Context())
	had, err := f.store.DeleteAvatar(r.Context(), u.ID)
	if err != nil {
		f.k.Fail(w, r, err)
		return
	}
	if had {
		f.avatarAudit(r, account.EventAvatarDelete, u, account.OutcomeSuccess, "")
		kit.Flash(r, "success", "Your picture was removed.")
	} else {
		kit.Flash(r, "info", "You have no picture to remove.")
	}
	http.Redirect(w, r, "/account", http.StatusSeeOther)
}

// Serve serves a stored picture to anyone who knows its id. The URL
// changes with the picture, so browsers may keep it for a year. The headers
// make sure the bytes are only ever an image: the exact type, no sniffing,
// and a policy that lets nothing run should a browser render it as a page.
func (f *Feature) Serve(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", avatarCSP)
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
	id := r.PathValue("id")
	if !account.ValidAvatarID(id) {
		avatarPlain(w, http.StatusNotFound)
		return
	}
	a, err := f.store.AvatarByID(r.Context(), id)
	switch {
	case errors.Is(err, account.ErrNotFound):
		avatarPlain(w, http.StatusNotFound)
		return
	case err != nil:
		kit.Logger(r.Context()).Error("avatar read", "err", err)
		h.Set("Retry-After", "5")
		avatarPlain(w, http.StatusServiceUnavailable)
		return
	}
	h.Set("Content-Type", a.ContentType)
	h.Set("Cache-Control", avatarCacheControl)
	h.Set("ETag", `"`+a.SHA256+`"`)
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(a.Data))
}

// avatarPlain answers an error of the picture route in plain text; it is
// not cached, since a picture may appear under an id later.
func avatarPlain(w http.ResponseWriter, status int) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, http.StatusText(status)+"\n")
}

// formatBytes writes a size exactly, in the largest unit that divides it:
// "2 MiB", "512 KiB", "3000000 bytes".
func formatBytes(n int64) string {
	switch {
	case n > 0 && n%(1<<20) == 0:
		return strconv.FormatInt(n>>20, 10) + " MiB"
	case n > 0 && n%(1<<10) == 0:
		return strconv.FormatInt(n>>10, 10) + " KiB"
	}
	return strconv.FormatInt(n, 10) + " bytes"
}
