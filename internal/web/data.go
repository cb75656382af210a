package web

import "time"

// AdminUsers is the data of the admin users page.
type AdminUsers struct {
	Users   []AdminUser
	PrevURL string
	NextURL string
}

// AdminUser is one row of the admin users page.
type AdminUser struct {
	ID            int64
	Email         string
	DisplayName   string
	Roles         []string
	EmailVerified bool
	Disabled      bool
	CreatedAt     time.Time
}

// Sessions is the data of the sessions page.
type Sessions struct {
	Sessions []SessionRow
	// CanList is false for stores that cannot list sessions (encrypted
	// cookies); CurrentOnly then describes this session.
	CanList     bool
	CurrentOnly SessionRow
}

// SessionRow is one session of the user.
type SessionRow struct {
	Handle    string
	Browser   string
	OS        string
	IP        string
	CreatedAt time.Time
	LastSeen  time.Time
	Current   bool
	Remember  bool
}

// AccountData is the data of the account page.
type AccountData struct {
	// TwoFactorKnown is false when the state of two-factor sign-in could
	// not be read; the page then does not claim either.
	TwoFactorKnown bool
	TwoFactorOn    bool
}

// ErrorData is the data of the error page.
type ErrorData struct {
	Status int
}
