package oidc

import (
	"slices"
	"strconv"

	"github.com/gatehouse/gatehouse/internal/account"
)

// Scopes the provider knows.
const (
	ScopeOpenID        = "openid"
	ScopeProfile       = "profile"
	ScopeEmail         = "email"
	ScopeGroups        = "groups"
	ScopeOfflineAccess = "offline_access"
)

// AllScopes returns every scope the provider knows, in display order.
func AllScopes() []string {
	return []string{ScopeOpenID, ScopeProfile, ScopeEmail, ScopeGroups, ScopeOfflineAccess}
}

// acr values: how strongly the user signed in.
const (
	ACRPassword    = "urn:gatehouse:acr:1fa"
	ACRMultiFactor = "urn:gatehouse:acr:2fa"
)

// acrOf returns the acr for an amr list.
func acrOf(amr []string) string {
	if slices.Contains(amr, "mfa") {
		return ACRMultiFactor
	}
	return ACRPassword
}

// Subject is the user's OpenID subject: the stable, never reused account id.
func Subject(u account.User) string { return strconv.FormatInt(u.ID, 10) }

// userClaims returns the claims of u that the granted scopes release (sub
// not included). picture is an absolute URL on issuer.
func userClaims(u account.User, scopes []string, issuer string) map[string]any {
	c := map[string]any{}
	if slices.Contains(scopes, ScopeProfile) {
		c["name"] = u.DisplayName
		c["preferred_username"] = u.Email
		if u.AvatarID != "" && account.ValidAvatarID(u.AvatarID) {
			c["picture"] = issuer + "/avatars/" + u.AvatarID
		}
	}
	if slices.Contains(scopes, ScopeEmail) {
		c["email"] = u.Email
		c["email_verified"] = u.EmailVerified()
	}
	if slices.Contains(scopes, ScopeGroups) {
		c["groups"] = roleNames(u)
	}
	return c
}

// scopeDescriptions say, on the consent page, what each scope releases.
var scopeDescriptions = map[string]string{
	ScopeOpenID:        "Your account identifier",
	ScopeProfile:       "Your name, email address as user name, and profile picture",
	ScopeEmail:         "Your email address and whether it is confirmed",
	ScopeGroups:        "Your roles (groups)",
	ScopeOfflineAccess: "Access while you are away (until you sign out or revoke it)",
}
