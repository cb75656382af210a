package web

import "time"

// Activity is the data of a user's own activity page (/account/activity).
type Activity struct {
	Events  []ActivityEvent
	PrevURL string
	NextURL string
}

// ActivityEvent is one event of the user's account, described for its owner.
type ActivityEvent struct {
	At      time.Time
	What    string // what happened, in words
	Outcome string // success, failure, denied or error
	// IP and Device describe the client; empty when ByAdmin.
	IP     string
	Device string
	// ByAdmin is set when an administrator acted on the account: their
	// address and browser are not shown.
	ByAdmin bool
}

// AdminAudit is the data of the admins' audit search (/admin/audit). The
// filters as typed are in Page.Form (user, event, since, until).
type AdminAudit struct {
	Events []AuditRow
	// EventNames are the known event names, offered in the event filter.
	EventNames []string
	PrevURL    string
	NextURL    string
}

// AuditRow is one audit event as an admin sees it.
type AuditRow struct {
	ID        int64
	At        time.Time
	UserID    int64  // 0: no account (such as an unknown address)
	User      string // the user's email, "" when unknown or deleted
	ActorID   int64  // the admin who acted, 0 if none
	Actor     string
	Event     string
	Outcome   string
	IP        string
	Device    string // browser and system, from UserAgent
	UserAgent string
	Detail    string
}
