package archtest

import (
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/gatehouse/gatehouse"

// ring1 are the importable building blocks, with the third-party modules
// each may use (besides the standard library, golang.org/x and each other).
var ring1 = map[string][]string{
	"password":                nil,
	"session":                 nil,
	"session/sessiontest":     nil,
	"session/memstore":        nil,
	"session/cookiestore":     nil,
	"store/sqlstore":          nil,
	"store/redisstore":        {"github.com/redis/go-redis/v9"},
	"csrf":                    nil,
	"secheaders":              nil,
	"ratelimit":               nil,
	"ratelimit/redislimit":    {"github.com/redis/go-redis/v9"},
	"ratelimit/ratelimittest": nil,
	"realip":                  nil,
	"onetime":                 nil,
	"keyring":                 nil,
	"totp":                    {"github.com/skip2/go-qrcode"},
	"apitoken":                {"github.com/golang-jwt/jwt/v5"},
	"imagesafe":               nil,
}

// imports lists every package of the module with its direct (non-test)
// imports.
func imports(t *testing.T) map[string][]string {
	t.Helper()
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}}{{range .Imports}} {{.}}{{end}}`, module+"/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	m := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		m[strings.TrimPrefix(f[0], module+"/")] = f[1:]
	}
	return m
}

func isStd(p string) bool { return !strings.Contains(strings.SplitN(p, "/", 2)[0], ".") }

func TestRingOneImports(t *testing.T) {
	all := imports(t)
	for pkg, allowed := range ring1 {
		deps, ok := all[pkg]
		if !ok {
			t.Errorf("ring-1 package %s not found", pkg)
			continue
		}
	imports:
		for _, d := range deps {
			switch {
			case isStd(d), strings.HasPrefix(d, "golang.org/x/"):
				continue
			case strings.HasPrefix(d, module+"/"):
				if _, ok := ring1[strings.TrimPrefix(d, module+"/")]; !ok {
					t.Errorf("%s imports %s: ring-1 packages import only each other", pkg, d)
				}
				continue
			}
			for _, a := range allowed {
				if d == a || strings.HasPrefix(d, a+"/") {
					continue imports
				}
			}
			t.Errorf("%s imports %s, which it is not allowed to", pkg, d)
		}
	}
}

func TestOnlyMainImportsApp(t *testing.T) {
	for pkg, deps := range imports(t) {
		for _, d := range deps {
			if d == module+"/internal/app" && pkg != "cmd/gatehouse" && !strings.HasPrefix(pkg, "bench") {
				t.Errorf("%s imports internal/app; only cmd/gatehouse may", pkg)
			}
		}
	}
}

func TestDomainKnowsNoHTTP(t *testing.T) {
	all := imports(t)
	for _, pkg := range []string{"internal/account", "internal/db"} {
		for _, d := range all[pkg] {
			if d == "net/http" || d == module+"/internal/app" || d == module+"/internal/web" {
				t.Errorf("%s imports %s: the domain knows no HTTP", pkg, d)
			}
		}
	}
}
