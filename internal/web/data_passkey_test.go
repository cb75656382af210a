package web

import "time"

func init() {
	samplePageData["passkeys"] = Passkeys{Confirmed: true, Max: 20, Items: []PasskeyItem{
		{ID: 1, Name: `<b>phone</b>`, CreatedAt: time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC), Synced: true},
		{ID: 2, Name: "key", CreatedAt: time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC), LastUsedAt: time.Date(2026, 5, 5, 10, 0, 0, 0, time.UTC)},
	}}
}
