// Package activity is the activity and audit feature: a user's own recent
// activity (/account/activity) and the administrators' audit search
// (/admin/audit). It imports the kit, internal/account, internal/web and
// ring 1; never another feature or internal/app.
package activity

import (
	"context"
	"errors"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/account"
	"github.com/gatehouse/gatehouse/internal/kit"
	"github.com/gatehouse/gatehouse/internal/web"
)

// Feature serves the activity and audit pages.
type Feature struct {
	k *kit.Kit
}

// New builds the feature.
func New(k *kit.Kit) *Feature { return &Feature{k: k} }

// errBadTime is a time in the audit filter that cannot be read.
var errBadTime = errors.New("activity: bad audit time")

// Page sizes and the deepest page served: paging is by offset, so the
// depth bounds the rows the database skips.
const (
	activityPageSize = 50
	auditPageSize    = 50
	maxAuditPage     = 1000
)

// eventDescriptions says, for the account's owner, what each event means.
// Events of features not listed fall back to their name.
var eventDescriptions = map[string][2]string{ // name: {success, otherwise}
	"register":           {"Account created", "Someone tried to register again with your address"},
	"user.create":        {"Account created by the operator", "Account creation failed"},
	"login.success":      {"Signed in", "Signed in"},
	"login.failure":      {"Failed sign-in attempt", "Failed sign-in attempt"},
	"login.locked":       {"Sign-in paused after repeated failed attempts", "Sign-in paused after repeated failed attempts"},
	"ratelimit.refused":  {"Attempt refused: too many tries", "Attempt refused: too many tries"},
	"logout":             {"Signed out", "Sign-out failed"},
	"logout.all":         {"Signed out everywhere", "Sign-out everywhere failed"},
	"password.change":    {"Password changed", "Failed attempt to change the password"},
	"password.reset":     {"Password reset by email link", "Failed password reset"},
	"csrf.refused":       {"A form was refused (expired, or sent from another site)", "A form was refused (expired, or sent from another site)"},
	"admin.disable":      {"Account disabled by an administrator", "An attempt to disable the account was refused"},
	"admin.enable":       {"Account enabled by an administrator", "An attempt to enable the account was refused"},
	"admin.roles":        {"Roles changed", "A change of roles was refused"},
	"2fa.setup":          {"Two-factor setup started", "Two-factor setup failed"},
	"2fa.enable":         {"Two-factor authentication turned on", "Failed attempt to turn on two-factor authentication"},
	"2fa.verify":         {"Two-factor code accepted", "Wrong two-factor code"},
	"2fa.disable":        {"Two-factor authentication turned off", "Failed attempt to turn off two-factor authentication"},
	"2fa.recovery_codes": {"New recovery codes made", "Failed attempt to make new recovery codes"},
	"2fa.reset":          {"Two-factor authentication reset by an administrator", "Two-factor reset failed"},
	"refresh.reuse":      {"An API refresh token was used twice: its sessions were ended", "An API refresh token was used twice: its sessions were ended"},
	"refresh.revoke":     {"API token revoked", "API token revocation failed"},
	"login.step_up":      {"Confirmed a sign-in with a second factor", "Confirming a sign-in with a second factor failed"},
}

// knownEventNames lists the event names for the admin's filter.
func knownEventNames() []string {
	names := make([]string, 0, len(eventDescriptions))
	for n := range eventDescriptions {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func describeEvent(e account.Event) string {
	d, ok := eventDescriptions[string(e.Name)]
	if !ok {
		return strings.ReplaceAll(string(e.Name), ".", " ") + " (" + string(e.Outcome) + ")"
	}
	if e.Outcome == account.OutcomeSuccess {
		return d[0]
	}
	if e.Name == account.EventLoginFailure && e.Outcome == account.OutcomeError {
		return "Sign-in attempt not checked: the server was busy"
	}
	return d[1]
}

// pageNumber reads the page query parameter: 1 to max.
func pageNumber(r *http.Request, max int) int {
	v := r.Form.Get("page")
	if len(v) > 6 {
		return max
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return 1
	}
	return min(n, max)
}

// Activity shows the signed-in user the recent events of their own
// account, newest first. Events done by someone else (an administrator)
// show who acted, not their address or browser.
func (f *Feature) Activity(w http.ResponseWriter, r *http.Request) {
	u, _ := kit.UserFrom(r.Context())
	page := pageNumber(r, maxAuditPage)
	events, err := f.k.Accounts().ListAudit(r.Context(), account.AuditFilter{UserID: u.ID,
		Limit: activityPageSize + 1, Offset: (page - 1) * activityPageSize})
	if err != nil {
		f.k.StoreError("database")
		f.k.Fail(w, r, err)
		return
	}
	data := web.Activity{}
	if len(events) > activityPageSize {
		events = events[:activityPageSize]
		data.NextURL = "/account/activity?page=" + strconv.Itoa(page+1)
	}
	if page > 1 {
		data.PrevURL = "/account/activity?page=" + strconv.Itoa(page-1)
	}
	for _, e := range events {
		if e.UserID != u.ID {
			continue // the store filtered already; never show another's event
		}
		row := web.ActivityEvent{At: e.At, What: describeEvent(e), Outcome: string(e.Outcome)}
		if e.ActorID != 0 && e.ActorID != u.ID {
			row.ByAdmin = true
		} else {
			b, o := kit.DescribeAgent(e.UserAgent)
			row.IP, row.Device = e.IP, b+" on "+o
		}
		data.Events = append(data.Events, row)
	}
	p := f.k.Page(r, "Recent activity")
	p.Data = data
	f.k.Show(w, r, http.StatusOK, "activity", p)
}

// Bounds on the admin's audit filters.
const (
	maxAuditUserField  = kit.MaxEmailField
	maxAuditEventField = account.MaxAuditName
	maxAuditTimeField  = 40
)

// auditQuery is the admin's audit search as typed, and as understood.
type auditQuery struct {
	user, event, since, until string
	filter                    account.AuditFilter
	errors                    map[string]string
}

// parseAuditQuery reads the filters of /admin/audit. The user is an email
// address or a numeric ID; times are UTC, as a date (2006-01-02) or a
// date and time (2006-01-02T15:04); an until date includes that whole day.
func (f *Feature) parseAuditQuery(ctx context.Context, r *http.Request) (auditQuery, error) {
	q := auditQuery{errors: map[string]string{}}
	get := func(name string, max int) string {
		v := strings.TrimSpace(r.Form.Get(name))
		if len(v) > max {
			q.errors[name] = "This is far too long."
			return ""
		}
		return v
	}
	q.user, q.event = get("user", maxAuditUserField), get("event", maxAuditEventField)
	q.since, q.until = get("since", maxAuditTimeField), get("until", maxAuditTimeField)
	if q.user != "" {
		if id, err := strconv.ParseInt(q.user, 10, 64); err == nil {
			if id <= 0 {
				q.errors["user"] = "Enter an email address or a user ID."
			}
			q.filter.UserID = id
		} else {
			u, err := f.k.Accounts().UserByEmail(ctx, q.user)
			switch {
			case errors.Is(err, account.ErrNotFound):
				q.errors["user"] = "No account has this email address."
			case err != nil:
				return q, err
			default:
				q.filter.UserID = u.ID
			}
		}
	}
	if q.event != "" {
		if !validEventName(q.event) {
			q.errors["event"] = "Event names are lower-case letters, digits, dots, dashes and underscores."
		}
		q.filter.Name = account.EventName(q.event)
	}
	var err error
	if q.filter.Since, err = parseAuditTime(q.since, false); err != nil {
		q.errors["since"] = "Enter a date such as 2025-01-31, or a date and time such as 2025-01-31T14:30 (UTC)."
	}
	if q.filter.Until, err = parseAuditTime(q.until, true); err != nil {
		q.errors["until"] = "Enter a date such as 2025-01-31, or a date and time such as 2025-01-31T14:30 (UTC)."
	}
	if q.errors["since"] == "" && q.errors["until"] == "" && !q.filter.Since.IsZero() && !q.filter.Until.IsZero() &&
		!q.filter.Until.After(q.filter.Since) {
		q.errors["until"] = "The end of the range must come after its start."
	}
	if len(q.errors) == 0 {
		// Shown again (and kept in page links) in the form a
		// datetime-local field reads: an until date becomes the next
		// midnight, which is the same bound.
		q.since, q.until = formatAuditTime(q.filter.Since), formatAuditTime(q.filter.Until)
	}
	return q, nil
}

// formatAuditTime writes t as a datetime-local value, "" for the zero time.
func formatAuditTime(t time.Time) string {
	switch {
	case t.IsZero():
		return ""
	case t.Second() != 0:
		return t.Format("2006-01-02T15:04:05")
	}
	return t.Format("2006-01-02T15:04")
}

func validEventName(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return s != ""
}

// parseAuditTime reads a UTC time of the audit filter. A date alone means
// its first instant, or with endOfDay the first instant of the next day.
func parseAuditTime(v string, endOfDay bool) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	if t, err := time.ParseInLocation("2006-01-02", v, time.UTC); err == nil {
		if t.Year() < 1 || t.Year() > 9998 {
			return time.Time{}, errBadTime
		}
		if endOfDay {
			t = t.AddDate(0, 0, 1)
		}
		return t, nil
	}
	for _, layout := range []string{"2006-01-02T15:04", "2006-01-02T15:04:05", time.RFC3339} {
		if t, err := time.ParseInLocation(layout, v, time.UTC); err == nil {
			if t.Year() < 1 || t.Year() > 9998 {
				break
			}
			return t.UTC().Truncate(time.Second), nil
		}
	}
	return time.Time{}, errBadTime
}

// Audit lets admins search the audit trail by user, event and time.
func (f *Feature) Audit(w http.ResponseWriter, r *http.Request) {
	q, err := f.parseAuditQuery(r.Context(), r)
	if err != nil {
		f.k.Fail(w, r, err)
		return
	}
	p := f.k.Page(r, "Audit log")
	p.Form["user"], p.Form["event"], p.Form["since"], p.Form["until"] = q.user, q.event, q.since, q.until
	data := web.AdminAudit{EventNames: knownEventNames()}
	p.Data = data
	if len(q.errors) > 0 {
		p.Errors = q.errors
		f.k.Show(w, r, http.StatusUnprocessableEntity, "admin_audit", p)
		return
	}
	page := pageNumber(r, maxAuditPage)
	q.filter.Limit, q.filter.Offset = auditPageSize+1, (page-1)*auditPageSize
	events, err := f.k.Accounts().ListAudit(r.Context(), q.filter)
	if err != nil {
		f.k.StoreError("database")
		f.k.Fail(w, r, err)
		return
	}
	link := func(n int) string {
		return "/admin/audit?" + kit.URLValues("user", q.user, "event", q.event, "since", q.since, "until", q.until, "page", strconv.Itoa(n))
	}
	if len(events) > auditPageSize {
		events = events[:auditPageSize]
		if page < maxAuditPage {
			data.NextURL = link(page + 1)
		}
	}
	if page > 1 {
		data.PrevURL = link(page - 1)
	}
	emails := f.auditEmails(r.Context(), events)
	for _, e := range events {
		b, o := kit.DescribeAgent(e.UserAgent)
		data.Events = append(data.Events, web.AuditRow{ID: e.ID, At: e.At, UserID: e.UserID, User: emails[e.UserID],
			ActorID: e.ActorID, Actor: emails[e.ActorID], Event: string(e.Name), Outcome: string(e.Outcome),
			IP: e.IP, Device: b + " on " + o, UserAgent: e.UserAgent, Detail: e.Detail})
	}
	p.Data = data
	f.k.Show(w, r, http.StatusOK, "admin_audit", p)
}

// auditEmails looks up the addresses of the users a page of events names
// (at most two per event). A user since deleted has none.
func (f *Feature) auditEmails(ctx context.Context, events []account.Event) map[int64]string {
	out := map[int64]string{}
	for _, e := range events {
		for _, id := range []int64{e.UserID, e.ActorID} {
			if _, done := out[id]; done || id == 0 {
				continue
			}
			out[id] = ""
			if u, err := f.k.Accounts().UserByID(ctx, id); err == nil {
				out[id] = u.Email
			}
		}
	}
	return out
}
