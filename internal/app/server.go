package app

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/gatehouse/gatehouse/internal/kit"
	"github.com/gatehouse/gatehouse/secheaders"
)

// Server is Gatehouse's HTTP side: the page kit, the features and the
// dependencies they use.
type Server struct {
	d       *deps
	cfg     *Config
	log     *slog.Logger
	k       *kit.Kit
	headers *secheaders.Headers
	now     func() time.Time
}

// NewServer builds the HTTP handler of a Gatehouse instance.
func NewServer(d *deps) (*Server, http.Handler, error) {
	s := &Server{d: d, cfg: d.cfg, log: d.log, k: d.kit, now: d.now}
	hopts := []secheaders.Option{}
	if d.cfg.Secure() {
		hopts = append(hopts, secheaders.WithHSTS())
	}
	s.headers = secheaders.New(hopts...)
	return s, s.routes(), nil
}
