package api

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// openAPIMethods are the operation keys of an OpenAPI path item.
var openAPIMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

func loadOpenAPI(t *testing.T) map[string]any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "docs", "openapi.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatalf("docs/openapi.yaml: %v", err)
	}
	return doc
}

// docs/openapi.yaml describes exactly the routes routesAPI registers, and
// every reference in it resolves.
func TestAPIOpenAPIMatchesRoutes(t *testing.T) {
	doc := loadOpenAPI(t)
	if v, _ := doc["openapi"].(string); !strings.HasPrefix(v, "3.1.") {
		t.Fatalf("openapi version %q, want 3.1.x", v)
	}
	paths, ok := doc["paths"].(map[string]any)
	if !ok {
		t.Fatal("no paths")
	}
	var documented, registered []string
	for path, item := range paths {
		ops, ok := item.(map[string]any)
		if !ok {
			t.Fatalf("path %s is not an object", path)
		}
		for key, op := range ops {
			if !slices.Contains(openAPIMethods, key) {
				continue
			}
			documented = append(documented, strings.ToUpper(key)+" "+path)
			o, _ := op.(map[string]any)
			if resp, _ := o["responses"].(map[string]any); len(resp) == 0 {
				t.Errorf("%s %s has no responses", key, path)
			}
			if id, _ := o["operationId"].(string); id == "" {
				t.Errorf("%s %s has no operationId", key, path)
			}
		}
	}
	for _, rt := range apiRoutes {
		registered = append(registered, rt.method+" "+rt.path)
	}
	slices.Sort(documented)
	slices.Sort(registered)
	if !slices.Equal(documented, registered) {
		t.Fatalf("docs/openapi.yaml documents\n  %s\nthe server registers\n  %s", strings.Join(documented, "\n  "), strings.Join(registered, "\n  "))
	}

	// Every $ref points at something.
	var walk func(v any, where string)
	walk = func(v any, where string) {
		switch v := v.(type) {
		case map[string]any:
			for k, child := range v {
				if k == "$ref" {
					ref, _ := child.(string)
					if resolveRef(doc, ref) == nil {
						t.Errorf("%s: $ref %q does not resolve", where, ref)
					}
					continue
				}
				walk(child, where+"/"+k)
			}
		case []any:
			for _, child := range v {
				walk(child, where)
			}
		}
	}
	walk(doc, "#")

	// The problem types the code answers with are the ones documented.
	enum := asStrings(resolveRef(doc, "#/components/schemas/Problem").(map[string]any)["properties"].(map[string]any)["type"].(map[string]any)["enum"])
	var used []string
	for _, p := range []Problem{ProblemInvalidToken, ProblemInvalidRefresh, ProblemCredentials, ProblemSecondFactor, ProblemUnverified,
		ProblemMalformed, ProblemUnknownField, ProblemMissingField, ProblemMediaType, ProblemTooLarge, ProblemTooMany,
		ProblemNotFound, ProblemMethod, ProblemUnavailable, ProblemInternal} {
		if !slices.Contains(used, p.Type) {
			used = append(used, p.Type)
		}
	}
	slices.Sort(enum)
	slices.Sort(used)
	if !slices.Equal(enum, used) {
		t.Errorf("Problem type enum %v, the code uses %v", enum, used)
	}
}

func resolveRef(doc map[string]any, ref string) any {
	rest, ok := strings.CutPrefix(ref, "#/")
	if !ok {
		return nil
	}
	var cur any = doc
	for _, part := range strings.Split(rest, "/") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		part = strings.ReplaceAll(strings.ReplaceAll(part, "~1", "/"), "~0", "~")
		if cur, ok = m[part]; !ok {
			return nil
		}
	}
	return cur
}

func asStrings(v any) []string {
	list, _ := v.([]any)
	out := make([]string, 0, len(list))
	for _, x := range list {
		if s, ok := x.(string); ok {
			out = append(out, s)
		}
	}
	return out
}
