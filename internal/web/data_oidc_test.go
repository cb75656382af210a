package web

import "time"

// The OpenID Connect provider's pages (internal/oidc fills them with its
// own types; maps with the same fields render the same).
func init() {
	samplePageData["oidc_consent"] = map[string]any{"ClientName": "<App>", "Action": "/oidc/authorize?client_id=x&a=<b>",
		"Scopes": []map[string]string{{"Name": "openid", "Description": "Your account identifier"}}}
	samplePageData["oidc_denied"] = map[string]any{"ClientName": "<App>", "ReturnURL": "https://app.example/cb?error=access_denied"}
	samplePageData["oidc_logout"] = map[string]any{"Confirm": true, "ClientName": "<App>", "Action": "/oidc/logout?x=1", "Refused": false}
	samplePageData["oidc_continue"] = map[string]any{"ClientName": "<App>", "URL": "https://app.example/cb?code=x"}
	samplePageData["oidc_apps"] = map[string]any{"Apps": []map[string]any{{"ClientID": "c1", "Name": "<App>", "Scopes": []string{"openid"}, "At": time.Now()}}}
	samplePageData["oidc_clients"] = map[string]any{"Clients": []map[string]any{{"ID": "c1", "Name": "<App>", "Public": false,
		"RedirectURIs": []string{"https://app.example/cb"}, "Require2FA": true, "Roles": []string{"admin"}, "SkipConsent": false, "Disabled": false}}}
}
