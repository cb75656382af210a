package web

import "time"

func init() {
	tok := TokenForm{Token: "tok<en>", Email: "a@example.com", NewEmail: "<b>@example.com"}
	samplePageData["verify_email"] = tok
	samplePageData["reset"] = tok
	samplePageData["email_confirm"] = tok
	samplePageData["outbox"] = DevOutbox{Messages: []DevMail{{ID: "1", To: "a@example.com", Subject: "<script>",
		Text: "Hello <script>\nhttps://example.com/verify-email?token=x", Time: time.Unix(0, 0)}}}
}
