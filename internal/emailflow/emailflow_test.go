package emailflow

import (
	"strings"
	"testing"
)

func TestEmailLinkToken(t *testing.T) {
	tests := []struct {
		in   string
		want string
		ok   bool
	}{
		{"", "", false},
		{"   ", "", false},
		{" abc ", "abc", true},
		{strings.Repeat("A", maxEmailTokenField), strings.Repeat("A", maxEmailTokenField), true},
		{strings.Repeat("A", maxEmailTokenField+1), "", false},
	}
	for _, tc := range tests {
		got, ok := emailLinkToken(tc.in)
		if ok != tc.ok || (ok && got != tc.want) {
			t.Errorf("emailLinkToken(%q) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestEmailLoopbackHost(t *testing.T) {
	for host, want := range map[string]bool{"localhost": true, "127.0.0.1": true, "::1": true,
		"mail.example.com": false, "10.0.0.1": false, "": false} {
		if got := emailLoopbackHost(host); got != want {
			t.Errorf("emailLoopbackHost(%q) = %v, want %v", host, got, want)
		}
	}
}

func TestEmailDeviceText(t *testing.T) {
	for ua, want := range map[string]string{
		"": "",
		"Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0": "Firefox 128 on Linux",
	} {
		if got := emailDeviceText(ua); got != want {
			t.Errorf("emailDeviceText(%q) = %q, want %q", ua, got, want)
		}
	}
}
