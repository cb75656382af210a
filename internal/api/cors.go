package api

import (
	"net/http"
	"slices"
	"strings"
)

// CORS for the JSON API: closed unless CORS_ORIGINS lists origins.
//
// An allowed origin gets Access-Control-Allow-Origin with its exact value
// (never "*") and preflight answers naming the route's methods and the
// Authorization and Content-Type headers. Credentials are never allowed:
// the API takes bearer tokens, not cookies. A request from any other origin
// is served without CORS headers, so browsers keep its answer from the page.

// corsMaxAge is how long browsers may cache a preflight answer (seconds).
const corsMaxAge = "600"

// normalizeOrigin lowercases an origin and drops a default port, so that a
// configured "https://App.example.com:443" matches the "https://app.example.com"
// a browser sends.
func normalizeOrigin(o string) string {
	o = strings.ToLower(strings.TrimSuffix(o, "/"))
	switch {
	case strings.HasPrefix(o, "https://"):
		o = strings.TrimSuffix(o, ":443")
	case strings.HasPrefix(o, "http://"):
		o = strings.TrimSuffix(o, ":80")
	}
	return o
}

// corsOrigin returns the request's Origin if it is on the allow-list.
func (a *Feature) corsOrigin(r *http.Request) (string, bool) {
	vals := r.Header.Values("Origin")
	if len(a.origins) == 0 || len(vals) != 1 || !a.origins[vals[0]] {
		return "", false
	}
	return vals[0], true
}

// cors answers preflight requests for the API paths (methods maps each path
// to its methods) and adds CORS headers to the answers for allowed origins.
func (a *Feature) cors(methods map[string][]string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Add("Vary", "Origin")
		origin, allowed := a.corsOrigin(r)
		if r.Method == http.MethodOptions {
			ms, known := methods[r.URL.Path]
			if !known {
				next.ServeHTTP(w, r) // 404
				return
			}
			h.Add("Vary", "Access-Control-Request-Method")
			h.Add("Vary", "Access-Control-Request-Headers")
			h.Set("Allow", allowHeader(ms))
			want := r.Header.Get("Access-Control-Request-Method")
			if allowed && (slices.Contains(ms, want) || (want == http.MethodHead && slices.Contains(ms, http.MethodGet))) {
				h.Set("Access-Control-Allow-Origin", origin)
				h.Set("Access-Control-Allow-Methods", allowHeader(ms))
				h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type")
				h.Set("Access-Control-Max-Age", corsMaxAge)
			}
			h.Set("Cache-Control", "no-store")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		if allowed {
			h.Set("Access-Control-Allow-Origin", origin)
			h.Set("Access-Control-Expose-Headers", "WWW-Authenticate, Retry-After")
		}
		next.ServeHTTP(w, r)
	})
}
