package app

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
	// avatarOutputSize is the side of the stored square.
	avatarOutputSize = 256
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

// avatarFeature holds the picture store and the limits of uploads.
type avatarFeature struct {
	d      *deps
	store  account.AvatarStore
	limit  ratelimit.Limit   // uploads per user
	opts   imagesafe.Options // what Process accepts and makes
	decode chan struct{}     // a slot per concurrent decode
}

func newAvatarFeature(d *deps) (*avatarFeature, error) {
	limit, err := ratelimit.ParseLimit(avatarUploadLimit)
	if err != nil {
		return nil, fmt.Errorf("avatar upload limit: %w", err)
	}
	maxBytes := d.cfg.AvatarMaxBytes
	if maxBytes <= 0 {
		maxBytes = imagesafe.DefaultMaxBytes
	}
	return &avatarFeature{
		d: d, store: d.db.Avatars(), limit: limit,
		opts: imagesafe.Options{MaxBytes: maxBytes, MaxWidth: avatarMaxSide, MaxHeight: avatarMaxSide,
			MaxPixels: avatarMaxPixels, OutputSize: avatarOutputSize},
		decode: make(chan struct{}, avatarDecoders),
	}, nil
}

// routesAvatar adds the upload routes to pages and the picture route to root.
//
// The upload is routed on root with its own chain (security headers,
// session, user, sign-in) instead of the pages chain, whose CSRF middleware
// reads a form token with PostFormValue: for a multipart body that parses
// the whole body before any handler runs, and a body over the limit then
// fails as a missing token (403) instead of 413. uploadAvatar streams the
// body and checks the token itself, with the same Protector, from the
// X-CSRF-Token header or the csrf_token part.
func (s *Server) routesAvatar(pages, root *http.ServeMux, auth func(http.Handler) http.Handler) {
	upload := auth(http.HandlerFunc(s.uploadAvatar))
	root.Handle("POST /account/avatar", s.headers.Handler(s.d.sessions.Handler(s.k.LoadUser(upload))))
	// POST never gets here (root's route is more specific than root's "/");
	// this entry makes the pages mux answer other methods with 405.
	pages.Handle("POST /account/avatar", upload)
	pages.Handle("POST /account/avatar/delete", auth(http.HandlerFunc(s.deleteAvatar)))
	root.Handle("GET /avatars/{id}", http.HandlerFunc(s.serveAvatar))
}

// uploadAvatar reads a multipart upload, checks its CSRF token, re-encodes
// the picture and stores it as the user's picture, replacing the old one.
// Nothing is stored unless every step succeeds.
func (s *Server) uploadAvatar(w http.ResponseWriter, r *http.Request) {
	f := s.d.avatars
	u, _ := kit.UserFrom(r.Context())

	// A request from another site, or a browser without our CSRF cookie,
	// is refused before its body is read: the probe's token is never
	// valid, so only these two reasons matter here.
	if err := s.k.CheckCSRFToken(r, "probe"); errors.Is(err, csrf.ErrCrossOrigin) || errors.Is(err, csrf.ErrCookieMissing) {
		s.k.CSRFFailed(w, r)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, kit.MaxUploadBytes)
	// Whatever the answer, read the rest of the (bounded) body so that a
	// browser still sending it sees the answer rather than a reset.
	defer func() { _, _ = io.Copy(io.Discard, r.Body) }()

	mr, err := r.MultipartReader()
	if err != nil {
		s.avatarRefused(w, r, http.StatusUnsupportedMediaType, "Send the picture as multipart/form-data, in the field “avatar”.")
		return
	}
	verified := false
	verify := func(token string) error {
		if verified {
			return nil
		}
		if err := s.k.CheckCSRFToken(r, token); err != nil {
			return err
		}
		verified = true
		return nil
	}
	if token := r.Header.Get(csrf.HeaderName); token != "" {
		if err := verify(token); err != nil {
			s.k.CSRFFailed(w, r)
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
		s.avatarFormFailed(w, r, u, verified, err)
		return
	}

	if !s.allowAvatarUpload(w, r, u) {
		return
	}

	img, err := f.process(r.Context(), form.image)
	form.image = nil
	if err != nil {
		s.avatarImageFailed(w, r, u, err)
		return
	}
	a := account.Avatar{ID: account.NewAvatarID(), UserID: u.ID, ContentType: img.ContentType,
		SHA256: img.SHA256, Data: img.Data, CreatedAt: s.now()}
	if err := f.store.PutAvatar(r.Context(), a); err != nil {
		s.k.Fail(w, r, err)
		return
	}
	s.avatarAudit(r, account.EventAvatarUpload, u, account.OutcomeSuccess, fmt.Sprintf("%s %dx%d from %s, %d bytes", img.ContentType, img.Width, img.Height, img.Source, len(img.Data)))
	kit.Flash(r, "success", "Your picture was updated.")
	http.Redirect(w, r, "/account", http.StatusSeeOther)
}

// allowAvatarUpload consumes one upload of the user's limit; otherwise it
// answers 429 (or 503 when the limiter is down: fail closed).
func (s *Server) allowAvatarUpload(w http.ResponseWriter, r *http.Request, u account.User) bool {
	g, key := s.d.guard, "avatar:user:"+strconv.FormatInt(u.ID, 10)
	res, err := g.limiter.Allow(r.Context(), key, s.d.avatars.limit)
	if err != nil {
		kit.Logger(r.Context()).Error("rate limiter failed", "err", err)
		w.Header().Set("Retry-After", "5")
		s.k.ErrorPage(w, r, http.StatusServiceUnavailable, "")
		return false
	}
	ratelimit.WriteHeaders(w, "avatar", res)
	if res.Allowed {
		return true
	}
	s.d.metrics.rateLimited("avatar upload per user")
	// One audit record a minute at most: refusals must not fill the trail.
	if rec, err := g.limiter.Allow(r.Context(), key+":audit", avatarRefusalAudit); err == nil && rec.Allowed {
		_ = s.d.accounts.Record(r.Context(), account.Event{Name: "ratelimit.refused", Outcome: account.OutcomeDenied,
			UserID: u.ID, IP: s.k.IP(r), UserAgent: r.UserAgent(), Detail: "avatar upload per user"})
	}
	s.k.TooManyAfter(w, r, res.RetryAfter)
	return false
}

// avatarRefusalAudit bounds the audit records of refused uploads.
var avatarRefusalAudit = ratelimit.PerMinute(1)

// errAvatarBusy means no decoder was free in time.
var errAvatarBusy = errors.New("avatar: all decoders busy")

// process re-encodes an uploaded picture, at most avatarDecoders at a time:
// decoding may allocate about 15 bytes per declared pixel.
func (f *avatarFeature) process(ctx context.Context, in []byte) (imagesafe.Result, error) {
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
func (s *Server) avatarFormFailed(w http.ResponseWriter, r *http.Request, u account.User, verified bool, err error) {
	if errors.Is(err, kit.ErrCSRFToken) {
		s.k.CSRFFailed(w, r)
		return
	}
	status, msg := http.StatusBadRequest, "The upload could not be read. Please choose the picture again."
	switch {
	case errors.Is(err, errAvatarTooLarge):
		status, msg = http.StatusRequestEntityTooLarge, "The picture is larger than "+formatBytes(s.d.avatars.opts.MaxBytes)+". Please choose a smaller one."
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
		s.avatarAudit(r, account.EventAvatarUpload, u, account.OutcomeFailure, err.Error())
	}
	s.avatarRefused(w, r, status, msg)
}

// avatarImageFailed answers a picture imagesafe refused (or could not get to).
func (s *Server) avatarImageFailed(w http.ResponseWriter, r *http.Request, u account.User, err error) {
	status, msg := http.StatusUnprocessableEntity, "The picture could not be read: the file is damaged or incomplete."
	switch {
	case errors.Is(err, errAvatarBusy):
		w.Header().Set("Retry-After", "5")
		s.k.ErrorPage(w, r, http.StatusServiceUnavailable, "The server is busy. Please try again in a moment.")
		return
	case errors.Is(err, imagesafe.ErrTooLarge):
		status, msg = http.StatusRequestEntityTooLarge, "The picture is larger than "+formatBytes(s.d.avatars.opts.MaxBytes)+". Please choose a smaller one."
	case errors.Is(err, imagesafe.ErrUnsupportedType):
		status, msg = http.StatusUnsupportedMediaType, "Only PNG, JPEG and WebP pictures are accepted, recognised by their content whatever the file is called. SVG and other formats are refused."
	case errors.Is(err, imagesafe.ErrTooManyPixels):
		msg = fmt.Sprintf("The picture has too many pixels: at most %d a side and %.1f megapixels in all.", avatarMaxSide, float64(avatarMaxPixels)/1e6)
	case errors.Is(err, imagesafe.ErrBadDimensions), errors.Is(err, imagesafe.ErrCorrupt):
	default:
		kit.Logger(r.Context()).Warn("avatar processing", "err", err)
	}
	s.avatarAudit(r, account.EventAvatarUpload, u, account.OutcomeFailure, err.Error())
	s.avatarRefused(w, r, status, msg)
}

// avatarRefused shows the account page again with the message under the
// picture field. The stored picture is untouched.
func (s *Server) avatarRefused(w http.ResponseWriter, r *http.Request, status int, msg string) {
	p := s.k.Page(r, "Account")
	p.Errors[avatarField] = msg
	s.k.Show(w, r, status, "account", p)
}

// avatarAudit records a picture event of the user.
func (s *Server) avatarAudit(r *http.Request, name account.EventName, u account.User, outcome account.Outcome, detail string) {
	_ = s.d.accounts.Record(r.Context(), account.Event{Name: name, Outcome: outcome, UserID: u.ID,
		IP: s.k.IP(r), UserAgent: r.UserAgent(), Detail: detail})
}

// deleteAvatar removes the user's picture.
func (s *Server) deleteAvatar(w http.ResponseWriter, r *http.Request) {
	u, _ := kit.UserFrom(r.Context())
	had, err := s.d.avatars.store.DeleteAvatar(r.Context(), u.ID)
	if err != nil {
		s.k.Fail(w, r, err)
		return
	}
	if had {
		s.avatarAudit(r, account.EventAvatarDelete, u, account.OutcomeSuccess, "")
		kit.Flash(r, "success", "Your picture was removed.")
	} else {
		kit.Flash(r, "info", "You have no picture to remove.")
	}
	http.Redirect(w, r, "/account", http.StatusSeeOther)
}

// serveAvatar serves a stored picture to anyone who knows its id. The URL
// changes with the picture, so browsers may keep it for a year. The headers
// make sure the bytes are only ever an image: the exact type, no sniffing,
// and a policy that lets nothing run should a browser render it as a page.
func (s *Server) serveAvatar(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", avatarCSP)
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
	id := r.PathValue("id")
	if !account.ValidAvatarID(id) {
		avatarPlain(w, http.StatusNotFound)
		return
	}
	a, err := s.d.avatars.store.AvatarByID(r.Context(), id)
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
