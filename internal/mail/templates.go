package mail

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"io/fs"
	"slices"
	"strings"
	"sync"
	"text/template"
	"time"
)

//go:embed templates/*.tmpl
var templateFS embed.FS

// Names of the embedded mail templates.
const (
	VerifyEmail        = "verify_email"         // Link, ExpiresIn
	PasswordReset      = "password_reset"       // Link, ExpiresIn
	EmailChangeConfirm = "email_change_confirm" // to the new address: NewEmail, Link, ExpiresIn
	EmailChangeNotice  = "email_change_notice"  // to the old address: Email, NewEmail
	AccountExists      = "account_exists"       // someone tried to register the address: Link (sign-in or reset page)
	PasswordChanged    = "password_changed"     // When, IP, Device
	TwoFactorEnabled   = "twofactor_enabled"    // When
	TwoFactorDisabled  = "twofactor_disabled"   // When
	NewDeviceSignIn    = "new_device_signin"    // When, IP, Device
	SecurityNotice     = "security_notice"      // Title, Body
)

// ErrUnknownTemplate is returned by Render for a name that is not one of the
// embedded templates.
var ErrUnknownTemplate = errors.New("mail: unknown template")

// Data is what the templates read. Each template uses only some fields (see
// the template name constants); unused fields may stay empty.
type Data struct {
	// AppName names the service in the mail; "Gatehouse" when empty.
	AppName string
	// Email is the account's address (the recipient, or the old address).
	Email string
	// NewEmail is the requested new address of an email change.
	NewEmail string
	// Link is the absolute URL the mail asks the reader to open, such as a
	// one-time verification or reset link.
	Link string
	// ExpiresIn is how long Link stays valid.
	ExpiresIn time.Duration
	// When is the time of the event being reported (shown in UTC).
	When time.Time
	// IP and Device describe where the event came from, such as
	// "203.0.113.9" and "Firefox on Linux".
	IP     string
	Device string
	// Title and Body are the subject and text of a security_notice.
	Title string
	Body  string
}

type mailTemplate struct {
	text *template.Template
	html *htmltemplate.Template
}

var funcs = map[string]any{
	"duration": humanDuration,
	"when":     func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") },
}

var loadTemplates = sync.OnceValues(func() (map[string]mailTemplate, error) {
	names, err := fs.Glob(templateFS, "templates/*.txt.tmpl")
	if err != nil {
		return nil, err
	}
	out := make(map[string]mailTemplate)
	for _, file := range names {
		base := strings.TrimSuffix(strings.TrimPrefix(file, "templates/"), ".txt.tmpl")
		if strings.HasPrefix(base, "_") {
			continue // shared partials
		}
		tt, err := template.New(base).Funcs(funcs).Option("missingkey=error").
			ParseFS(templateFS, "templates/_footer.txt.tmpl", file)
		if err != nil {
			return nil, err
		}
		ht, err := htmltemplate.New(base).Funcs(funcs).Option("missingkey=error").
			ParseFS(templateFS, "templates/_layout.html.tmpl", "templates/"+base+".html.tmpl")
		if err != nil {
			return nil, err
		}
		out[base] = mailTemplate{text: tt, html: ht}
	}
	return out, nil
})

// Names returns the names of the embedded templates, sorted.
func Names() []string {
	ts, err := loadTemplates()
	if err != nil {
		return nil
	}
	var names []string
	for n := range ts {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Render fills the template called name with data (normally a Data) and
// returns a Message with Subject, Text and HTML set; the caller sets To.
// The HTML part goes through html/template, so data is escaped there.
func Render(name string, data any) (Message, error) {
	ts, err := loadTemplates()
	if err != nil {
		return Message{}, fmt.Errorf("mail: templates: %w", err)
	}
	t, ok := ts[name]
	if !ok {
		return Message{}, fmt.Errorf("%w: %q", ErrUnknownTemplate, clip(name, 64))
	}
	switch d := data.(type) {
	case Data:
		if d.AppName == "" {
			d.AppName = DefaultFromName
		}
		data = d
	case *Data:
		if d != nil && d.AppName == "" {
			c := *d
			c.AppName = DefaultFromName
			data = c
		}
	}
	var subj, text, html bytes.Buffer
	if err := t.text.ExecuteTemplate(&subj, "subject", data); err != nil {
		return Message{}, fmt.Errorf("mail: render %s subject: %w", name, err)
	}
	if err := t.text.ExecuteTemplate(&text, name+".txt.tmpl", data); err != nil {
		return Message{}, fmt.Errorf("mail: render %s text: %w", name, err)
	}
	if err := t.html.ExecuteTemplate(&html, "layout", data); err != nil {
		return Message{}, fmt.Errorf("mail: render %s html: %w", name, err)
	}
	m := Message{
		Subject: strings.Join(strings.Fields(subj.String()), " "),
		Text:    strings.TrimSpace(text.String()) + "\n",
		HTML:    html.String(),
	}
	return m, nil
}

// humanDuration writes d as "30 minutes", "48 hours", "2 days".
func humanDuration(d time.Duration) string {
	unit := func(n int64, s string) string {
		if n == 1 {
			return "1 " + s
		}
		return fmt.Sprintf("%d %ss", n, s)
	}
	switch {
	case d <= 0:
		return "a short time"
	case d < time.Hour:
		return unit(max(int64(d/time.Minute), 1), "minute")
	case d <= 48*time.Hour || d%(24*time.Hour) != 0:
		if d%time.Hour == 0 {
			return unit(int64(d/time.Hour), "hour")
		}
		return unit(int64(d/time.Minute), "minute")
	default:
		return unit(int64(d/(24*time.Hour)), "day")
	}
}
