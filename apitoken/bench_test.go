package apitoken

import (
	"testing"
	"time"
)

func BenchmarkIssue(b *testing.B) {
	iss := mustIssuer(b, mustStatic(b, mustKey(b, "k1")), time.Now)
	extra := Extra{Roles: []string{"user", "admin"}, AuthTime: time.Now()}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := iss.Issue("user-1", extra); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerify(b *testing.B) {
	keys := mustStatic(b, mustKey(b, "k1"))
	tok, _, err := mustIssuer(b, keys, time.Now).Issue("user-1", Extra{Roles: []string{"user", "admin"}})
	if err != nil {
		b.Fatal(err)
	}
	v := mustVerifier(b, keys, time.Now)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(tok); err != nil {
			b.Fatal(err)
		}
	}
}
