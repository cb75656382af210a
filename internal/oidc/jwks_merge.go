package oidc

import (
	"encoding/json"
	"net/http"
)

// WithRSAKeys serves api's key set at [PathJWKS] (the JSON API's keys) with
// the provider's RS256 keys appended, and passes every other request to api.
// A key set it cannot build is a 503, never a partial set.
func (p *Provider) WithRSAKeys(api http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != PathJWKS || r.Method != http.MethodGet {
			api.ServeHTTP(w, r)
			return
		}
		rec := &bufferedResponse{header: http.Header{}}
		api.ServeHTTP(rec, r)
		var set struct {
			Keys []json.RawMessage `json:"keys"`
		}
		rsa, err := p.Keys().JWKS(r.Context())
		if rec.status != 0 && rec.status != http.StatusOK || err != nil || json.Unmarshal(rec.body, &set) != nil {
			p.log.Error("jwks unavailable", "status", rec.status, "err", err)
			w.Header().Set("Retry-After", "5")
			http.Error(w, "The key set is not available.", http.StatusServiceUnavailable)
			return
		}
		for _, k := range rsa {
			b, _ := json.Marshal(k)
			set.Keys = append(set.Keys, b)
		}
		for k, v := range rec.header {
			w.Header()[k] = v
		}
		w.Header().Del("Content-Length")
		_ = json.NewEncoder(w).Encode(set)
	})
}

// bufferedResponse records a handler's answer.
type bufferedResponse struct {
	header http.Header
	status int
	body   []byte
}

func (b *bufferedResponse) Header() http.Header { return b.header }
func (b *bufferedResponse) Write(p []byte) (int, error) {
	b.body = append(b.body, p...)
	return len(p), nil
}
func (b *bufferedResponse) WriteHeader(code int) { b.status = code }
