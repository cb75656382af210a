package kit

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/gatehouse/gatehouse/session"
	"github.com/gatehouse/gatehouse/session/memstore"
)

// inSession runs f inside a request that has a session.
func inSession(t *testing.T, f func(r *http.Request)) {
	t.Helper()
	m, err := session.NewManager(memstore.New(), session.InsecureCookie())
	if err != nil {
		t.Fatal(err)
	}
	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { f(r) }))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))
}

func TestAMR(t *testing.T) {
	tests := []struct {
		name    string
		set     []string // SetAMR first, when not nil
		add     []string
		want    []string
		twoStep bool
	}{
		{"nothing", nil, nil, nil, false},
		{"password", []string{"pwd"}, nil, []string{"pwd"}, false},
		{"second factor", []string{"pwd"}, []string{"otp", "mfa"}, []string{"pwd", "otp", "mfa"}, true},
		{"each once", []string{"pwd"}, []string{"pwd", "otp", "otp", "mfa", "mfa"}, []string{"pwd", "otp", "mfa"}, true},
		{"no spaces smuggled", []string{"pwd"}, []string{"otp mfa", ""}, []string{"pwd"}, false},
		{"set replaces", []string{"hwk"}, nil, []string{"hwk"}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			inSession(t, func(r *http.Request) {
				AddAMR(r, "otp", "mfa") // an earlier sign-in's methods
				if tc.set != nil {
					SetAMR(r, tc.set...)
				} else {
					SetAMR(r)
				}
				AddAMR(r, tc.add...)
				if got := AMR(r); !slices.Equal(got, tc.want) {
					t.Fatalf("AMR = %q, want %q", got, tc.want)
				}
				if got := TwoFactorDone(r); got != tc.twoStep {
					t.Fatalf("TwoFactorDone = %v, want %v", got, tc.twoStep)
				}
			})
		})
	}
}

func TestAMRWithoutSession(t *testing.T) {
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	AddAMR(r, "pwd")
	if AMR(r) != nil || TwoFactorDone(r) {
		t.Fatal("a request without a session has no amr")
	}
}

func ExampleSafeNext() {
	for _, next := range []string{"/account?tab=2", "//evil.example", "https://evil.example/", "/login"} {
		fmt.Println(SafeNext(next))
	}
	// Output:
	// /account?tab=2
	// /dashboard
	// /dashboard
	// /dashboard
}
