package account_test

import (
	"bytes"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/account"
	"github.com/gatehouse/gatehouse/password"
)

func TestRegister(t *testing.T) {
	e := newEnv(t)
	r, err := e.svc.Register(ctx, account.RegisterInput{Email: "  Alice@Example.com ", Password: goodPassword, DisplayName: " Alice "}, meta)
	if err != nil || r.Existing {
		t.Fatalf("Register = %+v, %v", r, err)
	}
	u := r.User
	if u.ID == 0 || u.Email != "Alice@Example.com" || u.DisplayName != "Alice" || !slices.Equal(u.Roles, []account.Role{account.RoleUser}) ||
		u.IsAdmin() || u.EmailVerified() || u.Disabled() || !u.CreatedAt.Equal(start) || !u.SessionsValidAfter.Equal(start) {
		t.Fatalf("registered user = %+v", u)
	}
	ev := e.lastEvent(t, account.EventRegister)
	if ev.UserID != u.ID || ev.Outcome != account.OutcomeSuccess || ev.IP != meta.IP || ev.UserAgent != meta.UserAgent || !ev.At.Equal(start) {
		t.Fatalf("register event = %+v", ev)
	}
}

func TestRegisterValidation(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		in   account.RegisterInput
		want []string // invalid fields
	}{
		{account.RegisterInput{Email: "", Password: goodPassword}, []string{"email"}},
		{account.RegisterInput{Email: "Alice <a@example.com>", Password: goodPassword}, []string{"email"}},
		{account.RegisterInput{Email: "<a@example.com>", Password: goodPassword}, []string{"email"}},
		{account.RegisterInput{Email: "a@example.com\r\nBcc: x@example.com", Password: goodPassword}, []string{"email"}},
		{account.RegisterInput{Email: "a@example.com", Password: "short"}, []string{"password"}},
		{account.RegisterInput{Email: "a@example.com", Password: "password123"}, []string{"password"}},
		{account.RegisterInput{Email: "someone@example.com", Password: "xxsomeone12"}, []string{"password"}},
		{account.RegisterInput{Email: "a@example.com", Password: strings.Repeat("x", 2000)}, []string{"password"}},
		{account.RegisterInput{Email: "a@example.com", Password: goodPassword, DisplayName: strings.Repeat("é", 65)}, []string{"display_name"}},
		{account.RegisterInput{Email: "a@example.com", Password: goodPassword, DisplayName: "a\nb"}, []string{"display_name"}},
		{account.RegisterInput{Email: "a@example.com", Password: goodPassword, DisplayName: "evil\u202egnp.exe"}, []string{"display_name"}},
		{account.RegisterInput{Email: "bad", Password: "short", DisplayName: "\x00"}, []string{"display_name", "email", "password"}},
	}
	for _, tc := range tests {
		_, err := e.svc.Register(ctx, tc.in, meta)
		fields := fieldErrors(err)
		var got []string
		for f, msg := range fields {
			got = append(got, f)
			if msg == "" || strings.Contains(msg, tc.in.Password) && tc.in.Password != "" {
				t.Errorf("Register(%q): bad message %q for %s", tc.in.Email, msg, f)
			}
		}
		slices.Sort(got)
		if !slices.Equal(got, tc.want) {
			t.Errorf("Register(%q, pw %d bytes, name %q) fields = %v (%v), want %v", tc.in.Email, len(tc.in.Password), tc.in.DisplayName, got, err, tc.want)
		}
	}
	if n := e.hasher.hashes.Load(); n != 0 {
		t.Errorf("invalid registrations hashed %d times", n)
	}
	// The policy's own message reaches the user.
	_, err := e.svc.Register(ctx, account.RegisterInput{Email: "a@example.com", Password: "short"}, meta)
	if got := fieldErrors(err)[account.FieldPassword]; got != "Use at least 8 characters." {
		t.Errorf("policy message = %q", got)
	}
}

func TestRegisterDuplicateIndistinguishable(t *testing.T) {
	e := newEnv(t)
	alice := e.mustRegister(t, "alice@example.com", goodPassword)
	hashesBefore := e.hasher.hashes.Load()
	e.clock.Advance(time.Hour)
	r, err := e.svc.Register(ctx, account.RegisterInput{Email: "ALICE@example.COM", Password: "another fine password", DisplayName: "Mallory"}, meta)
	if err != nil {
		t.Fatalf("duplicate Register error = %v, want nil (same as a fresh registration)", err)
	}
	if !r.Existing || r.User.ID != alice.ID || r.User.Email != "alice@example.com" {
		t.Fatalf("duplicate Register = %+v", r)
	}
	if e.hasher.hashes.Load() != hashesBefore+1 {
		t.Error("duplicate registration skipped the hashing work")
	}
	// Nothing changed: old password works, new one does not, name and times kept.
	got, err := e.svc.Authenticate(ctx, "alice@example.com", goodPassword, meta)
	if err != nil || got.DisplayName != "N" || !got.UpdatedAt.Equal(start) || !got.SessionsValidAfter.Equal(start) {
		t.Fatalf("existing account changed: %+v, %v", got, err)
	}
	if _, err := e.svc.Authenticate(ctx, "alice@example.com", "another fine password", meta); !errors.Is(err, account.ErrInvalidCredentials) {
		t.Fatalf("new password accepted: %v", err)
	}
	ev := e.lastEvent(t, account.EventRegister)
	if ev.UserID != alice.ID || ev.Outcome != account.OutcomeFailure || !strings.Contains(ev.Detail, "already") {
		t.Fatalf("duplicate register event = %+v", ev)
	}
	page, _ := e.svc.ListUsers(ctx, 1, 10, "")
	if page.Total != 1 {
		t.Fatalf("users = %d, want 1", page.Total)
	}
}

func TestAuthenticateGenericFailure(t *testing.T) {
	e := newEnv(t)
	alice := e.mustRegister(t, "alice@example.com", goodPassword)
	bob := e.mustRegister(t, "bob@example.com", goodPassword)
	admin := e.mustCreate(t, "admin@example.com", true)
	if err := e.svc.SetDisabled(ctx, admin, bob.ID, true, meta); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, email, pw string
		userID          int64
		dummy           bool // an unknown account still costs a (dummy) verification
		reason          string
	}{
		{"unknown email", "nobody@example.com", goodPassword, 0, true, "unknown email nobody@example.com"},
		{"malformed email", "my secret password", goodPassword, 0, true, "malformed email"},
		{"wrong password", "alice@example.com", "wrong password!", alice.ID, false, "wrong password"},
		{"wrong case password", "alice@example.com", strings.ToUpper(goodPassword), alice.ID, false, "wrong password"},
		{"disabled", "bob@example.com", goodPassword, bob.ID, false, "account disabled"},
		{"too long", "alice@example.com", strings.Repeat("x", 5000), 0, true, "password too long"},
		{"empty", "alice@example.com", "", alice.ID, false, "wrong password"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d0, v0 := e.hasher.dummys.Load(), e.hasher.verifies.Load()
			u, err := e.svc.Authenticate(ctx, tc.email, tc.pw, meta)
			if err != account.ErrInvalidCredentials || u.ID != 0 {
				t.Fatalf("Authenticate = %+v, %v; want exactly ErrInvalidCredentials", u, err)
			}
			if worked := e.hasher.dummys.Load() - d0 + e.hasher.verifies.Load() - v0; worked != 1 {
				t.Errorf("hash verifications = %d, want 1", worked)
			}
			if tc.dummy != (e.hasher.dummys.Load() > d0) {
				t.Errorf("dummy verify called = %v, want %v", !tc.dummy, tc.dummy)
			}
			ev := e.lastEvent(t, account.EventLoginFailure)
			if ev.UserID != tc.userID || ev.Outcome != account.OutcomeFailure || !strings.HasPrefix(ev.Detail, tc.reason) || ev.IP != meta.IP {
				t.Errorf("failure event = %+v, want user %d reason %q", ev, tc.userID, tc.reason)
			}
			if tc.pw != "" && strings.Contains(ev.Detail, tc.pw) {
				t.Errorf("password leaked into audit detail %q", ev.Detail)
			}
		})
	}
	u, err := e.svc.Authenticate(ctx, " ALICE@example.com", goodPassword, meta)
	if err != nil || u.ID != alice.ID {
		t.Fatalf("Authenticate(alice) = %+v, %v", u, err)
	}
	if ev := e.lastEvent(t, account.EventLoginSuccess); ev.UserID != alice.ID || ev.Outcome != account.OutcomeSuccess {
		t.Fatalf("success event = %+v", ev)
	}
}

func TestAuthenticateBusy(t *testing.T) {
	e := newEnv(t)
	e.mustRegister(t, "alice@example.com", goodPassword)
	e.hasher.busy.Store(true)
	for _, email := range []string{"alice@example.com", "nobody@example.com"} {
		_, err := e.svc.Authenticate(ctx, email, goodPassword, meta)
		if !errors.Is(err, account.ErrBusy) || !errors.Is(err, password.ErrBusy) || errors.Is(err, account.ErrInvalidCredentials) {
			t.Errorf("Authenticate(%s) with busy hasher = %v, want ErrBusy", email, err)
		}
	}
	_, err := e.svc.Register(ctx, account.RegisterInput{Email: "new@example.com", Password: goodPassword}, meta)
	if !errors.Is(err, account.ErrBusy) {
		t.Errorf("Register with busy hasher = %v", err)
	}
}

func TestRehashOnLogin(t *testing.T) {
	e := newEnv(t)
	u := e.mustRegister(t, "alice@example.com", goodPassword)
	e.hasher.version.Store(1) // parameters changed since the hash was made
	e.clock.Advance(time.Minute)
	if _, err := e.svc.Authenticate(ctx, "alice@example.com", goodPassword, meta); err != nil {
		t.Fatal(err)
	}
	c, err := e.db.Users().CredentialsByID(ctx, u.ID)
	if err != nil || c.PasswordHash != "fake$1$"+goodPassword {
		t.Fatalf("hash after login = %q, %v; want upgraded", c.PasswordHash, err)
	}
	if !c.User.SessionsValidAfter.Equal(start) {
		t.Error("rehash revoked sessions")
	}
	if ev := e.lastEvent(t, account.EventLoginSuccess); ev.Detail != "password hash upgraded" {
		t.Errorf("success detail = %q", ev.Detail)
	}
	hashes := e.hasher.hashes.Load()
	if _, err := e.svc.Authenticate(ctx, "alice@example.com", goodPassword, meta); err != nil {
		t.Fatal(err)
	}
	if e.hasher.hashes.Load() != hashes {
		t.Error("hash upgraded twice")
	}
}

func TestChangePassword(t *testing.T) {
	e := newEnv(t)
	u := e.mustRegister(t, "carol@example.com", goodPassword)
	const newPW = "a much better passphrase"
	tests := []struct {
		name, current, next string
		want                []string
	}{
		{"wrong current", "not it at all", newPW, []string{"current_password"}},
		{"weak new", goodPassword, "short", []string{"new_password"}},
		{"common new", goodPassword, "password123", []string{"new_password"}},
		{"email in new", goodPassword, "carol-rocks-2026", []string{"new_password"}},
		{"same", goodPassword, goodPassword, []string{"new_password"}},
		{"both wrong", "nope nope nope", "short", []string{"current_password", "new_password"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.svc.ChangePassword(ctx, u.ID, tc.current, tc.next, meta)
			var got []string
			for f := range fieldErrors(err) {
				got = append(got, f)
			}
			slices.Sort(got)
			if !slices.Equal(got, tc.want) {
				t.Fatalf("fields = %v (%v), want %v", got, err, tc.want)
			}
			if ev := e.lastEvent(t, account.EventPasswordChange); ev.Outcome != account.OutcomeFailure || ev.UserID != u.ID {
				t.Fatalf("event = %+v", ev)
			}
		})
	}
	e.clock.Advance(time.Hour)
	now := e.clock.Now()
	got, err := e.svc.ChangePassword(ctx, u.ID, goodPassword, newPW, meta)
	if err != nil {
		t.Fatal(err)
	}
	if !got.SessionsValidAfter.Equal(now) || got.SessionValid(start.Add(time.Minute)) || !got.SessionValid(now) {
		t.Fatalf("after change: SessionsValidAfter = %v, want %v", got.SessionsValidAfter, now)
	}
	if _, err := e.svc.Authenticate(ctx, "carol@example.com", goodPassword, meta); !errors.Is(err, account.ErrInvalidCredentials) {
		t.Error("old password still works")
	}
	if _, err := e.svc.Authenticate(ctx, "carol@example.com", newPW, meta); err != nil {
		t.Errorf("new password: %v", err)
	}
	if ev := e.lastEvent(t, account.EventPasswordChange); ev.Outcome != account.OutcomeSuccess || !ev.At.Equal(now) {
		t.Fatalf("event = %+v", ev)
	}
	if _, err := e.svc.ChangePassword(ctx, 9999, newPW, goodPassword, meta); !errors.Is(err, account.ErrNotFound) {
		t.Errorf("unknown user: %v", err)
	}
}

func TestSetDisabled(t *testing.T) {
	e := newEnv(t)
	admin := e.mustCreate(t, "admin@example.com", true)
	user := e.mustRegister(t, "user@example.com", goodPassword)
	other := e.mustRegister(t, "other@example.com", goodPassword)

	// A non-admin cannot disable anyone.
	if err := e.svc.SetDisabled(ctx, user, other.ID, true, meta); !errors.Is(err, account.ErrForbidden) {
		t.Fatalf("non-admin SetDisabled = %v, want ErrForbidden", err)
	}
	ev := e.lastEvent(t, account.EventAdminDisable)
	if ev.Outcome != account.OutcomeDenied || ev.ActorID != user.ID || ev.UserID != other.ID {
		t.Fatalf("denied event = %+v", ev)
	}
	// A forged actor (roles claimed but not stored) is not trusted.
	forged := user
	forged.Roles = []account.Role{account.RoleAdmin, account.RoleUser}
	if err := e.svc.SetDisabled(ctx, forged, other.ID, true, meta); !errors.Is(err, account.ErrForbidden) {
		t.Fatalf("forged admin SetDisabled = %v, want ErrForbidden", err)
	}
	// An admin cannot disable themself.
	if err := e.svc.SetDisabled(ctx, admin, admin.ID, true, meta); !errors.Is(err, account.ErrCannotDisableSelf) {
		t.Fatalf("self SetDisabled = %v", err)
	}
	if err := e.svc.SetDisabled(ctx, admin, 9999, true, meta); !errors.Is(err, account.ErrNotFound) {
		t.Fatalf("SetDisabled(missing) = %v", err)
	}
	// An admin disables a user: sessions end, sign-in fails.
	e.clock.Advance(time.Hour)
	now := e.clock.Now()
	if err := e.svc.SetDisabled(ctx, admin, user.ID, true, meta); err != nil {
		t.Fatal(err)
	}
	got, _ := e.svc.UserByID(ctx, user.ID)
	if !got.Disabled() || !got.DisabledAt.Equal(now) || !got.SessionsValidAfter.Equal(now) || got.SessionValid(now.Add(time.Second)) {
		t.Fatalf("disabled user = %+v", got)
	}
	ev = e.lastEvent(t, account.EventAdminDisable)
	if ev.Outcome != account.OutcomeSuccess || ev.ActorID != admin.ID || ev.UserID != user.ID || !ev.At.Equal(now) {
		t.Fatalf("disable event = %+v", ev)
	}
	if _, err := e.svc.Authenticate(ctx, "user@example.com", goodPassword, meta); !errors.Is(err, account.ErrInvalidCredentials) {
		t.Fatalf("disabled user signed in: %v", err)
	}
	if _, err := e.svc.ChangePassword(ctx, user.ID, goodPassword, "a new fine password", meta); !errors.Is(err, account.ErrDisabled) {
		t.Fatalf("disabled user changed password: %v", err)
	}
	// A disabled admin is no longer an admin.
	admin2 := e.mustCreate(t, "admin2@example.com", true)
	if err := e.svc.SetDisabledByOperator(ctx, admin2.ID, true, meta); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.SetDisabled(ctx, admin2, other.ID, true, meta); !errors.Is(err, account.ErrForbidden) {
		t.Fatalf("disabled admin SetDisabled = %v", err)
	}
	// Enabling restores sign-in.
	if err := e.svc.SetDisabled(ctx, admin, user.ID, false, meta); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Authenticate(ctx, "user@example.com", goodPassword, meta); err != nil {
		t.Fatalf("enabled user: %v", err)
	}
	if ev := e.lastEvent(t, account.EventAdminEnable); ev.Outcome != account.OutcomeSuccess || ev.ActorID != admin.ID {
		t.Fatalf("enable event = %+v", ev)
	}
}

func TestCreateUserListAndRoles(t *testing.T) {
	e := newEnv(t)
	u, err := e.svc.CreateUser(ctx, account.CreateUserInput{Email: "Root@Example.com", Password: goodPassword, Admin: true, Verified: true}, meta)
	if err != nil || !u.IsAdmin() || !u.EmailVerified() || !u.EmailVerifiedAt.Equal(start) {
		t.Fatalf("CreateUser = %+v, %v", u, err)
	}
	if _, err := e.svc.CreateUser(ctx, account.CreateUserInput{Email: "root@example.com", Password: goodPassword}, meta); !errors.Is(err, account.ErrEmailTaken) {
		t.Fatalf("duplicate CreateUser = %v", err)
	}
	if _, err := e.svc.CreateUser(ctx, account.CreateUserInput{Email: "x@example.com", Password: "short"}, meta); fieldErrors(err)["password"] == "" {
		t.Fatalf("weak CreateUser = %v", err)
	}
	for _, n := range []string{"a", "b", "c", "d"} {
		e.mustRegister(t, n+"@example.org", goodPassword)
	}
	page, err := e.svc.ListUsers(ctx, 2, 2, "")
	if err != nil || page.Total != 5 || page.Pages() != 3 || len(page.Users) != 2 || page.Users[0].Email != "b@example.org" {
		t.Fatalf("ListUsers page 2 = %+v, %v", page, err)
	}
	page, err = e.svc.ListUsers(ctx, 0, 0, " EXAMPLE.ORG ")
	if err != nil || page.Total != 4 || page.Page != 1 || page.Limit != 50 {
		t.Fatalf("ListUsers search = %+v, %v", page, err)
	}
	if got, err := e.svc.UserByEmail(ctx, "ROOT@example.com"); err != nil || got.ID != u.ID {
		t.Fatalf("UserByEmail = %+v, %v", got, err)
	}
	a, _ := e.svc.UserByEmail(ctx, "a@example.org")
	if err := e.svc.SetRoles(ctx, u.ID, a.ID, []account.Role{account.RoleAdmin}, meta); err != nil {
		t.Fatal(err)
	}
	if a, _ = e.svc.UserByID(ctx, a.ID); !a.IsAdmin() {
		t.Fatal("SetRoles did not grant admin")
	}
	if err := e.svc.SetRoles(ctx, u.ID, a.ID, []account.Role{"superuser"}, meta); fieldErrors(err)["roles"] == "" {
		t.Fatalf("SetRoles(unknown) = %v", err)
	}
	if ev := e.lastEvent(t, account.EventRolesChange); ev.ActorID != u.ID || ev.Detail != "roles=admin,user" {
		t.Fatalf("roles event = %+v", ev)
	}
	if ev := e.lastEvent(t, account.EventUserCreate); ev.Outcome != account.OutcomeFailure {
		t.Fatalf("user.create event = %+v", ev)
	}
}

func TestRevokeSessions(t *testing.T) {
	e := newEnv(t)
	u := e.mustRegister(t, "dan@example.com", goodPassword)
	e.clock.Advance(time.Minute)
	got, err := e.svc.RevokeSessions(ctx, u.ID, meta)
	if err != nil || !got.SessionsValidAfter.Equal(start.Add(time.Minute)) || got.SessionValid(start) {
		t.Fatalf("RevokeSessions = %+v, %v", got, err)
	}
	if ev := e.lastEvent(t, account.EventLogoutAll); ev.UserID != u.ID {
		t.Fatalf("event = %+v", ev)
	}
}

func TestAuditSanitized(t *testing.T) {
	e := newEnv(t)
	forged := "Mozilla\r\nat=2026-01-01T00:00:00Z event=login.success outcome=success user=1\x1b[2J\u2028"
	m := account.Meta{IP: "203.0.113.9\n", UserAgent: forged}
	if _, err := e.svc.Authenticate(ctx, "nobody@example.com", goodPassword, m); !errors.Is(err, account.ErrInvalidCredentials) {
		t.Fatal(err)
	}
	ev := e.lastEvent(t, account.EventLoginFailure)
	for _, s := range []string{ev.UserAgent, ev.IP, ev.Detail, ev.String()} {
		if strings.ContainsAny(s, "\r\n\x1b\u2028") {
			t.Errorf("control character stored: %q", s)
		}
	}
	if want := `Mozilla\x0d\x0aat=`; !strings.HasPrefix(ev.UserAgent, want) {
		t.Errorf("UserAgent = %q, want escaped prefix %q", ev.UserAgent, want)
	}
	// Records from the app are sanitized and bounded too.
	err := e.svc.Record(ctx, account.Event{Name: account.EventCSRFRefused, Outcome: account.OutcomeDenied, UserAgent: strings.Repeat("A\n", 1000), Detail: "origin=https://evil.example\r\nx"})
	if err != nil {
		t.Fatal(err)
	}
	ev = e.lastEvent(t, account.EventCSRFRefused)
	if len(ev.UserAgent) > account.MaxAuditUserAgent || strings.Contains(ev.UserAgent, "\n") || ev.Detail != `origin=https://evil.example\x0d\x0ax` || !ev.At.Equal(start) {
		t.Errorf("recorded event = %+v", ev)
	}
}

func TestSanitize(t *testing.T) {
	tests := []struct {
		in   string
		max  int
		want string
	}{
		{"plain text", 100, "plain text"},
		{"a\r\nb", 100, `a\x0d\x0ab`},
		{`back\slash`, 100, `back\\slash`},
		{`fake\x0a`, 100, `fake\\x0a`},
		{"tab\there", 100, `tab\x09here`},
		{"\x7f\u0085", 100, `\x7f\u0085`},
		{"rtl\u202eoverride", 100, `rtl\u202eoverride`},
		{"bad\xffutf8", 100, "bad\uFFFDutf8"},
		{"héllo", 2, "h"},
		{"a\nb", 3, "a"},
		{"ünïcode", 100, "ünïcode"},
	}
	for _, tc := range tests {
		if got := account.Sanitize(tc.in, tc.max); got != tc.want {
			t.Errorf("Sanitize(%q, %d) = %q, want %q", tc.in, tc.max, got, tc.want)
		}
	}
}

func TestNewServicePanicsWithoutDeps(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("NewService without dependencies did not panic")
		}
	}()
	account.NewService(account.Config{})
}

func TestAuditLog(t *testing.T) {
	var buf bytes.Buffer
	d := mustOpenDB(t)
	svc := account.NewService(account.Config{
		Users: d.Users(), Audit: d.Audit(), Hasher: &fakeHasher{}, Policy: password.Policy{},
		Log: slog.New(slog.NewTextHandler(&buf, nil)),
	})
	m := account.Meta{IP: "192.0.2.4", UserAgent: "x\nlevel=INFO msg=audit event=login.success user=1"}
	if _, err := svc.Authenticate(ctx, "nobody@example.com", goodPassword, m); !errors.Is(err, account.ErrInvalidCredentials) {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 1 || !strings.Contains(lines[0], "event=login.failure") || strings.Contains(lines[0], goodPassword) {
		t.Fatalf("log = %q", buf.String())
	}
}
