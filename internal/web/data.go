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
