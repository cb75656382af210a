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

// notFeatures are the packages under internal/ that are not features:
// the domain and its storage, the page kit and the server's own parts.
// Every other package under internal/ is a feature (internal/twofactor,
// internal/api...), and a new one is held to the feature rules at once.
var notFeatures = map[string]bool{
	"internal/app": true, "internal/archtest": true, "internal/account": true, "internal/db": true,
	"internal/web": true, "internal/mail": true, "internal/testenv": true, "internal/kit": true,
	"internal/guard": true, "internal/metrics": true, "internal/cli": true,
}

// isFeature reports whether pkg is a feature package (or a package inside
// one, such as internal/avatar/avatartest).
func isFeature(pkg string) bool {
	if !strings.HasPrefix(pkg, "internal/") {
		return false
	}
	top := "internal/" + strings.SplitN(strings.TrimPrefix(pkg, "internal/"), "/", 2)[0]
	return !notFeatures[top]
}

// featureOf is the top package of a feature ("internal/avatar" for
// internal/avatar/avatartest).
func featureOf(pkg string) string {
	return "internal/" + strings.SplitN(strings.TrimPrefix(pkg, "internal/"), "/", 2)[0]
}

// Features never import each other nor internal/app; what they share is
// the kit, internal/account, internal/db, internal/web, internal/mail and
// ring 1.
func TestFeaturesImportNoOtherFeature(t *testing.T) {
	all := imports(t)
	n := 0
	for pkg, deps := range all {
		if !isFeature(pkg) {
			continue
		}
		n++
		for _, d := range deps {
			d, ok := strings.CutPrefix(d, module+"/")
			if !ok {
				continue
			}
			switch {
			case d == "internal/app":
				t.Errorf("feature %s imports internal/app", pkg)
			case isFeature(d) && featureOf(d) != featureOf(pkg):
				t.Errorf("feature %s imports feature %s: features never import each other", pkg, d)
			case d == "internal/guard", d == "internal/metrics", d == "internal/cli":
				t.Errorf("feature %s imports %s: features use the kit, not the server's own parts", pkg, d)
			}
		}
	}
	if n < 7 {
		t.Errorf("found %d feature packages, want at least 7: is the list of non-features right?", n)
	}
}

// Only internal/app imports features (wiring them into one route list);
// the kit and the server's own parts import none.
func TestOnlyAppImportsFeatures(t *testing.T) {
	for pkg, deps := range imports(t) {
		if pkg == "internal/app" || isFeature(pkg) {
			continue
		}
		for _, d := range deps {
			if d, ok := strings.CutPrefix(d, module+"/"); ok && isFeature(d) {
				t.Errorf("%s imports feature %s; only internal/app may", pkg, d)
			}
		}
	}
}

// The kit is shared by every feature, so it imports none of them, nor the
// server's own parts.
func TestKitImportsNoServerPart(t *testing.T) {
	for _, d := range imports(t)["internal/kit"] {
		switch d {
		case module + "/internal/app", module + "/internal/guard", module + "/internal/metrics", module + "/internal/cli", module + "/internal/db":
			t.Errorf("internal/kit imports %s", d)
		}
	}
}
