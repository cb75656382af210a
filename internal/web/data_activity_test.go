package web

import "time"

func init() {
	at := time.Date(2025, 3, 1, 12, 30, 0, 0, time.UTC)
	samplePageData["activity"] = Activity{
		Events: []ActivityEvent{
			{At: at, What: "Signed in", Outcome: "success", IP: "203.0.113.7", Device: "Firefox 128 on Linux"},
			{At: at, What: "Failed sign-in attempt", Outcome: "failure", IP: `"><script>`, Device: "<b>"},
			{At: at, What: "Account disabled by an administrator", Outcome: "success", ByAdmin: true},
		},
		PrevURL: "/account/activity?page=1", NextURL: "/account/activity?page=3",
	}
	samplePageData["admin_audit"] = AdminAudit{
		EventNames: []string{"login.failure", "login.success"},
		Events: []AuditRow{
			{ID: 2, At: at, UserID: 1, User: "a@example.com", ActorID: 3, Actor: "root@example.com", Event: "admin.disable",
				Outcome: "success", IP: "192.0.2.1", Device: "Firefox on Linux", UserAgent: "Mozilla/5.0", Detail: "<script>"},
			{ID: 1, At: at, Event: "ratelimit.refused", Outcome: "denied", IP: "192.0.2.2", Detail: "login per IP"},
			{ID: 3, At: at, UserID: 9, Event: "login.failure", Outcome: "failure"},
		},
		NextURL: "/admin/audit?page=2",
	}
}
