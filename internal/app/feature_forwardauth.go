package app

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/accessrule"
	"github.com/gatehouse/gatehouse/internal/forwardauth"
	"github.com/prometheus/client_golang/prometheus"
)

// Forward-auth wiring: the ACCESS_RULES watcher, and internal/forwardauth's
// site (rules in force, identity, audit, metrics, admin page) and handler
// (/auth/forward and /auth/request). Its routes are in routes.go; the
// "rules" command is in internal/cli.

// rulesWatchInterval is how often the rules file is polled.
const rulesWatchInterval = 2 * time.Second

type forwardAuthFeature struct {
	watcher *accessrule.Watcher // nil without ACCESS_RULES
	site    *forwardauth.Site
	handler *forwardauth.Handler
}

// openAccessRules reads ACCESS_RULES (a broken file refuses the start).
// It runs before the kit, whose Next accepts absolute URLs on the hosts the
// rules name.
func (d *deps) openAccessRules() error {
	d.fa = &forwardAuthFeature{}
	if d.cfg.AccessRules == "" {
		return nil
	}
	w, err := accessrule.NewWatcher(d.cfg.AccessRules, accessrule.OnReload(func(_ *accessrule.Rules, err error) {
		if err != nil {
			d.log.Error("access rules reload failed; the last good rules stay in force", "file", d.cfg.AccessRules, "err", err)
			return
		}
		d.log.Info("access rules reloaded", "file", d.cfg.AccessRules)
	}))
	if err != nil {
		return fmt.Errorf("setting GATEHOUSE_ACCESS_RULES: %w", err)
	}
	d.fa.watcher = w
	return nil
}

// externalNext accepts an absolute `next` on a host the rules name or under
// COOKIE_DOMAIN, https only (http too with --dev).
func (d *deps) externalNext(next string) (string, bool) {
	return accessrule.ExternalNext(next, func(host string) bool {
		return d.fa.site.Rules().CoversHost(host) || accessrule.UnderDomain(host, d.cfg.CookieDomain)
	}, d.cfg.Dev)
}

// openForwardAuth builds the site and the handler, once the kit and the API
// keys exist.
func (d *deps) openForwardAuth() error {
	f := d.fa
	f.site = forwardauth.NewSite(forwardauth.SiteConfig{Kit: d.kit, Watcher: f.watcher, File: d.cfg.AccessRules,
		CookieDomain: d.cfg.CookieDomain, AuditNow: d.guard.AuditNow,
		Register: func(c prometheus.Collector) { d.metrics.Register(c) }})
	h, err := forwardauth.New(forwardauth.Config{
		BaseURL:  d.cfg.BaseURL,
		Rules:    f.site.Rules,
		Trusted:  d.ips.IsTrusted,
		ClientIP: d.clientAddr,
		Identify: f.site.Identify,
		Tokens:   d.api.SigningKeys(),
		Observe:  f.site.Observe,
		Now:      func() time.Time { return d.now() },
	})
	if err != nil {
		return err
	}
	f.handler = h
	return nil
}

// readyNotes are lines /readyz adds to its answer without failing it: a
// broken rules file leaves the last good rules in force.
func (d *deps) readyNotes() []string {
	if d.fa == nil || d.fa.watcher == nil {
		return nil
	}
	if err := d.fa.watcher.Ready(); err != nil {
		return []string{"access rules: " + strings.ReplaceAll(err.Error(), "\n", "; ")}
	}
	return nil
}

// startRulesWatch polls the rules file until ctx ends.
func (d *deps) startRulesWatch(run func(name string, f func(context.Context) error)) {
	if d.fa != nil && d.fa.watcher != nil {
		run("access rules reload", func(ctx context.Context) error { return d.fa.watcher.Run(ctx, rulesWatchInterval) })
	}
}
