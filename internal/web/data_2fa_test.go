package web

import (
	"html/template"
	"time"
)

func init() {
	samplePageData["twofactor"] = TwoFactorStatus{Enabled: true, EnabledAt: time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC), RecoveryCodesLeft: 3}
	samplePageData["twofactor_setup"] = TwoFactorSetup{QRCode: template.URL("data:image/png;base64,iVBORw0KGgo="),
		Secret: "ABCD EFGH IJKL MNOP QRST UVWX YZ23 4567", Issuer: "Gatehouse", Account: `"><script>@example.com`}
	samplePageData["twofactor_codes"] = TwoFactorCodes{Codes: []string{"abcd-efgh-jkmn-pqrs", "<script>"}, JustEnabled: true}
	samplePageData["login_stepup"] = StepUp{Next: `/x?a="><script>`}
}
