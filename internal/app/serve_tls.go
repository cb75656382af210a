package app

import (
	"crypto/tls"
	"log"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// serverTLSConfig is Mozilla's "intermediate" profile as Go can serve it:
// TLS 1.2 and 1.3, and on 1.2 only AEAD suites with forward secrecy (no
// CBC, no SHA-1 MACs, no RSA key exchange). TLS 1.3's suites are not
// configurable in Go and are all AEAD.
func serverTLSConfig() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		CipherSuites: []uint16{
			tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
			tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
			tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
			tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
			tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
			tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
		},
	}
}

// handshakeLogEvery is how often at most a failed TLS handshake is logged:
// a scanner makes hundreds, and each is already counted in the metrics.
const handshakeLogEvery = time.Minute

// serverErrorLog receives what net/http logs about connections. Failed TLS
// handshakes are counted and logged at most once a minute, with how many
// were not logged; everything else is logged at WARN as before.
type serverErrorLog struct {
	log     *slog.Logger
	counted func()
	now     func() time.Time

	mu         sync.Mutex
	last       time.Time
	suppressed int
}

func newServerErrorLog(l *slog.Logger, counted func(), now func() time.Time) *log.Logger {
	return log.New(&serverErrorLog{log: l, counted: counted, now: now}, "", 0)
}

func (e *serverErrorLog) Write(p []byte) (int, error) {
	msg := strings.TrimSpace(string(p))
	if !strings.HasPrefix(msg, "http: TLS handshake error") {
		e.log.Warn(msg)
		return len(p), nil
	}
	e.counted()
	e.mu.Lock()
	now := e.now()
	if !e.last.IsZero() && now.Sub(e.last) < handshakeLogEvery {
		e.suppressed++
		e.mu.Unlock()
		return len(p), nil
	}
	n := e.suppressed
	e.last, e.suppressed = now, 0
	e.mu.Unlock()
	e.log.Warn(msg, "not_logged_since_last", n, "see", "gatehouse_tls_handshake_errors_total")
	return len(p), nil
}
