package api

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/apitoken"
	"github.com/gatehouse/gatehouse/internal/account"
	"github.com/gatehouse/gatehouse/internal/kit"
	"github.com/gatehouse/gatehouse/password"
	"github.com/gatehouse/gatehouse/ratelimit"
)

// maxCodeField bounds the totp_code field (a TOTP or a recovery code).
const maxCodeField = 64

// eventAPIToken is the audit event of a token pair issued at sign-in.
const eventAPIToken account.EventName = "api.token"

// TokenResponse is the answer of /api/v1/token and /api/v1/token/refresh
// (RFC 6749 section 5.1).
type TokenResponse struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
	RefreshToken string `json:"refresh_token"`
}

// MeResponse is the answer of /api/v1/me.
type MeResponse struct {
	ID            int64     `json:"id"`
	Email         string    `json:"email"`
	EmailVerified bool      `json:"email_verified"`
	DisplayName   string    `json:"display_name"`
	Roles         []string  `json:"roles"`
	TwoFactor     bool      `json:"two_factor"`
	CreatedAt     time.Time `json:"created_at"`
}

// apiToken signs in with email, password and, for accounts with two-factor
// authentication, totp_code, and answers a token pair. It has the defences
// of the sign-in form: the same rate limits and backoff, checked before the
// password, and one answer for every wrong credential.
func (a *Feature) apiToken(w http.ResponseWriter, r *http.Request) {
	f, ok := readJSONFields(w, r, "email", "password", "totp_code")
	if !ok || !requireFields(w, f, "email", "password") {
		return
	}
	email, pw, code := strings.TrimSpace(f["email"]), f["password"], strings.TrimSpace(f["totp_code"])
	if len(email) > kit.MaxEmailField || len(pw) > kit.MaxPasswordField || len(code) > maxCodeField {
		credentialsRefused(w, ProblemCredentials)
		return
	}
	ctx, m := r.Context(), a.k.Meta(r)
	release, retryAfter, err := a.k.Guard().LoginGate(ctx, r, email)
	switch {
	case errors.Is(err, kit.ErrLimiterDown):
		a.apiFail(w, r, err)
		return
	case err != nil:
		apiTooMany(w, retryAfter)
		return
	}
	u, err := a.k.Accounts().Authenticate(ctx, email, pw, m)
	if err == nil || errors.Is(err, account.ErrInvalidCredentials) {
		release(err == nil) // a busy hasher is not a failed attempt
	}
	switch {
	case errors.Is(err, account.ErrInvalidCredentials):
		credentialsRefused(w, ProblemCredentials)
		return
	case err != nil:
		a.apiFail(w, r, err)
		return
	}
	amr := []string{"pwd"}
	need, err := a.c.NeedsSecondFactor(ctx, u)
	if err != nil {
		a.apiFail(w, r, err)
		return
	}
	if need {
		if code == "" {
			// Asked before the code is checked, so that a client
			// discovering the requirement costs no attempt.
			credentialsRefused(w, ProblemSecondFactor)
			return
		}
		err := a.c.CheckSecondFactor(ctx, u, code, m)
		var limited *kit.SecondFactorLimitedError
		switch {
		case errors.As(err, &limited):
			apiTooMany(w, limited.RetryAfter)
			return
		case errors.Is(err, kit.ErrSecondFactorLimited):
			apiTooMany(w, time.Minute)
			return
		case errors.Is(err, kit.ErrSecondFactor):
			credentialsRefused(w, ProblemCredentials)
			return
		case err != nil:
			a.apiFail(w, r, err)
			return
		}
		amr = append(amr, "otp", "mfa")
	}
	if !u.EmailVerified() {
		writeProblem(w, ProblemUnverified, "")
		return
	}
	if err := a.waitForCutoff(ctx, u); err != nil {
		a.apiFail(w, r, err)
		return
	}
	authAt := a.now()
	access, claims, err := a.issuer.Issue(strconv.FormatInt(u.ID, 10), accessExtra(u, authAt, amr))
	if err != nil {
		a.apiFail(w, r, err)
		return
	}
	refresh, rec, err := a.refresh.Issue(ctx, u, authAt, amr)
	if err != nil {
		a.apiFail(w, r, err)
		return
	}
	_ = a.k.Accounts().Record(ctx, account.Event{Name: eventAPIToken, Outcome: account.OutcomeSuccess, UserID: u.ID,
		IP: m.IP, UserAgent: m.UserAgent, Detail: "refresh family " + rec.FamilyID + "; amr " + strings.Join(amr, " ")})
	writeTokens(w, access, claims, refresh)
}

// apiRefresh trades a refresh token for a new pair. The presented token is
// spent; presenting it again revokes its whole family.
func (a *Feature) apiRefresh(w http.ResponseWriter, r *http.Request) {
	f, ok := readJSONFields(w, r, "refresh_token")
	if !ok || !requireFields(w, f, "refresh_token") {
		return
	}
	api := a
	u, refresh, rec, err := api.refresh.Rotate(r.Context(), f["refresh_token"], a.k.Meta(r))
	switch {
	case errors.Is(err, account.ErrRefreshInvalid), errors.Is(err, account.ErrRefreshReused):
		kit.Logger(r.Context()).Info("api: refresh token refused", "reason", err.Error())
		invalidToken(w, ProblemInvalidRefresh)
		return
	case err != nil:
		a.apiFail(w, r, err)
		return
	}
	if err := a.waitForCutoff(r.Context(), u); err != nil {
		a.apiFail(w, r, err)
		return
	}
	access, claims, err := api.issuer.Issue(strconv.FormatInt(u.ID, 10), accessExtra(u, rec.AuthenticatedAt, rec.AMR))
	if err != nil {
		a.apiFail(w, r, err)
		return
	}
	writeTokens(w, access, claims, refresh)
	api.purgeExpired(r.Context())
}

// apiRevoke revokes a refresh token and every token of its family. It
// answers 204 whether or not the token existed (RFC 7009).
func (a *Feature) apiRevoke(w http.ResponseWriter, r *http.Request) {
	f, ok := readJSONFields(w, r, "refresh_token")
	if !ok || !requireFields(w, f, "refresh_token") {
		return
	}
	if err := a.refresh.Revoke(r.Context(), f["refresh_token"], a.k.Meta(r)); err != nil {
		a.apiFail(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusNoContent)
}

// apiMe describes the user of the access token.
func (a *Feature) apiMe(w http.ResponseWriter, r *http.Request) {
	u, _, ok := a.apiUser(w, r)
	if !ok {
		return
	}
	// u comes from the user lookup, which also reports the second factor.
	writeJSON(w, MeResponse{ID: u.ID, Email: u.Email, EmailVerified: u.EmailVerified(), DisplayName: u.DisplayName,
		Roles: roleNames(u), TwoFactor: u.TwoFactorEnabled, CreatedAt: u.CreatedAt.UTC().Truncate(time.Second)})
}

// apiUser checks the request's access token and returns its user. Every
// refusal (no token, a token in the query string, a malformed header, an
// invalid token, a user who is gone or disabled or whose cut-off is later
// than the token) gets the same 401; the reason is only logged.
func (a *Feature) apiUser(w http.ResponseWriter, r *http.Request) (account.User, *apitoken.Claims, bool) {
	ctx := r.Context()
	refuse := func(reason string) (account.User, *apitoken.Claims, bool) {
		kit.Logger(ctx).Debug("api: access token refused", "reason", reason)
		invalidToken(w, ProblemInvalidToken)
		return account.User{}, nil, false
	}
	token, err := apitoken.BearerToken(r)
	if err != nil {
		return refuse(err.Error())
	}
	claims, err := a.verify(ctx, token)
	if err != nil {
		return refuse(err.Error())
	}
	id, err := strconv.ParseInt(claims.Subject, 10, 64)
	if err != nil || id <= 0 {
		return refuse("subject is not a user id")
	}
	u, err := a.k.Accounts().UserByID(ctx, id)
	switch {
	case errors.Is(err, account.ErrNotFound):
		return refuse("unknown user")
	case err != nil:
		a.apiFail(w, r, err)
		return account.User{}, nil, false
	case !u.SessionValid(claims.IssuedAt):
		return refuse("user disabled or token issued before the user's cut-off")
	}
	return u, claims, true
}

// waitForCutoff waits, if needed, until the current whole second is not
// before u's cut-off. An access token's "iat" has whole seconds, and /me
// refuses tokens issued before the cut-off at its full precision, so a
// token issued in the same second as a password change (or the account's
// creation) would otherwise carry an "iat" before the cut-off and be
// refused. The wait is under a second and happens only right after a
// cut-off moved; a cut-off further ahead (clock skew between instances) is
// not waited for.
func (a *Feature) waitForCutoff(ctx context.Context, u account.User) error {
	now := a.now()
	wait := u.SessionsValidAfter.Sub(now.Truncate(time.Second))
	if wait <= 0 || wait > time.Second {
		return nil
	}
	// The first whole second at or after the cut-off.
	next := u.SessionsValidAfter.Truncate(time.Second)
	if next.Before(u.SessionsValidAfter) {
		next = next.Add(time.Second)
	}
	t := time.NewTimer(next.Sub(now))
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// accessExtra are the optional claims of u's access tokens.
func accessExtra(u account.User, authAt time.Time, amr []string) apitoken.Extra {
	return apitoken.Extra{Roles: roleNames(u), AuthTime: authAt, AMR: amr}
}

func roleNames(u account.User) []string {
	roles := make([]string, len(u.Roles))
	for i, role := range u.Roles {
		roles[i] = string(role)
	}
	return roles
}

func writeTokens(w http.ResponseWriter, access string, claims apitoken.Claims, refresh string) {
	writeJSON(w, TokenResponse{AccessToken: access, TokenType: "Bearer",
		ExpiresIn: int64(claims.ExpiresAt.Sub(claims.IssuedAt) / time.Second), RefreshToken: refresh})
}

// credentialsRefused answers a failed sign-in at the token endpoint.
func credentialsRefused(w http.ResponseWriter, p Problem) {
	w.Header().Set("WWW-Authenticate", "Bearer")
	writeProblem(w, p, "")
}

// apiTooMany answers 429 with Retry-After.
func apiTooMany(w http.ResponseWriter, after time.Duration) {
	w.Header().Set("Retry-After", strconv.FormatInt(ratelimit.RetryAfterSeconds(max(after, time.Second)), 10))
	writeProblem(w, ProblemTooMany, "")
}

// apiFail answers a backend failure: 503 with Retry-After, the error only
// logged.
func (a *Feature) apiFail(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, context.Canceled) {
		return // the client went away
	}
	if errors.Is(err, password.ErrBusy) || errors.Is(err, account.ErrBusy) {
		w.Header().Set("Retry-After", "2")
		writeProblem(w, ProblemUnavailable, "The server is busy. Try again in a moment.")
		return
	}
	kit.Logger(r.Context()).Error("api: backend failure", "err", err)
	w.Header().Set("Retry-After", "5")
	writeProblem(w, ProblemUnavailable, "")
}

// purgeInterval is how often expired refresh tokens are deleted.
const purgeInterval = time.Hour

// purgeExpired deletes expired refresh tokens, at most once per
// purgeInterval per process. Expired tokens are refused anyway; this keeps
// the table from growing.
func (a *Feature) purgeExpired(ctx context.Context) {
	now := a.now().Unix()
	last := a.lastPurge.Load()
	if now-last < int64(purgeInterval/time.Second) || !a.lastPurge.CompareAndSwap(last, now) {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if n, err := a.refresh.Purge(ctx); err != nil {
		a.log.Warn("api: deleting expired refresh tokens failed", "err", err)
	} else if n > 0 {
		a.log.Info("api: expired refresh tokens deleted", "count", n)
	}
}
