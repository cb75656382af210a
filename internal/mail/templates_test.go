package mail

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestRenderAll(t *testing.T) {
	link := "https://auth.example.com/verify-email?token=abc.DEF_123&x=1"
	data := Data{
		Email: "ada@example.com", NewEmail: "ada@new.example", Link: link, ExpiresIn: 30 * time.Minute,
		When: time.Date(2030, 5, 6, 7, 8, 0, 0, time.UTC), IP: "203.0.113.9", Device: "Firefox on Linux",
		Title: "Your API token was revoked", Body: "An administrator revoked all your API tokens.",
	}
	linked := []string{VerifyEmail, PasswordReset, EmailChangeConfirm, AccountExists}
	want := []string{AccountExists, EmailChangeConfirm, EmailChangeNotice, NewDeviceSignIn, PasswordChanged,
		PasswordReset, SecurityNotice, TwoFactorDisabled, TwoFactorEnabled, VerifyEmail}
	if got := Names(); !slices.Equal(got, want) {
		t.Fatalf("Names() = %v, want %v", got, want)
	}
	for _, name := range want {
		t.Run(name, func(t *testing.T) {
			m, err := Render(name, data)
			if err != nil {
				t.Fatal(err)
			}
			m.To = "ada@example.com"
			if err := m.Validate(); err != nil {
				t.Fatalf("rendered message invalid: %v", err)
			}
			if strings.Contains(m.Text+m.HTML, "<no value>") || strings.Contains(m.Text, "{{") {
				t.Fatalf("unfilled field:\n%s", m.Text)
			}
			if !strings.Contains(m.Text, "Gatehouse") || !strings.Contains(m.HTML, "Gatehouse") {
				t.Errorf("AppName default missing")
			}
			lower := strings.ToLower(m.HTML)
			for _, bad := range []string{"<img", "<script", "src=", "url(", "@import", "<link"} {
				if strings.Contains(lower, bad) {
					t.Errorf("HTML contains %q (remote content or tracking)", bad)
				}
			}
			if slices.Contains(linked, name) {
				if !slices.Contains(strings.Split(m.Text, "\n"), link) {
					t.Errorf("the link is not on a line of its own in the text:\n%s", m.Text)
				}
				if !strings.Contains(m.HTML, `href="https://auth.example.com/verify-email?token=abc.DEF_123&amp;x=1"`) {
					t.Errorf("HTML lacks the escaped link:\n%s", m.HTML)
				}
				if name != AccountExists && !strings.Contains(m.Text, "30 minutes") {
					t.Errorf("expiry missing:\n%s", m.Text)
				}
			}
			if name == SecurityNotice && m.Subject != data.Title {
				t.Errorf("subject %q, want the title", m.Subject)
			}
		})
	}
}

func TestRenderEscapesAndRejects(t *testing.T) {
	m, err := Render(VerifyEmail, &Data{AppName: "Acme", Email: `<b>x</b>@example.com`, Link: "javascript:alert(1)", ExpiresIn: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(m.HTML, "<b>x</b>") || strings.Contains(m.HTML, `href="javascript:`) {
		t.Errorf("HTML not escaped:\n%s", m.HTML)
	}
	if !strings.Contains(m.Text, "Acme") {
		t.Errorf("AppName not used")
	}
	// A title with a line break cannot inject a header: it is folded to one line.
	m, err = Render(SecurityNotice, Data{Title: "Notice\r\nBcc: eve@example.com", Body: "b"})
	if err != nil {
		t.Fatal(err)
	}
	if strings.ContainsAny(m.Subject, "\r\n") {
		t.Errorf("subject %q", m.Subject)
	}
	if _, err := Render("nope", Data{}); !errors.Is(err, ErrUnknownTemplate) {
		t.Errorf("Render(nope) = %v", err)
	}
	if _, err := Render(VerifyEmail, map[string]string{}); err == nil {
		t.Error("Render with missing keys succeeded")
	}
}

func TestHumanDuration(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{0, "a short time"}, {30 * time.Second, "1 minute"}, {time.Minute, "1 minute"}, {30 * time.Minute, "30 minutes"},
		{time.Hour, "1 hour"}, {90 * time.Minute, "90 minutes"}, {48 * time.Hour, "48 hours"}, {72 * time.Hour, "3 days"},
		{720 * time.Hour, "30 days"}, {49 * time.Hour, "49 hours"},
	}
	for _, tt := range tests {
		if got := humanDuration(tt.d); got != tt.want {
			t.Errorf("humanDuration(%v) = %q, want %q", tt.d, got, tt.want)
		}
	}
}
