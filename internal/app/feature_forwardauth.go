package app

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/accessrule"
	"github.com/gatehouse/gatehouse/internal/account"
	"github.com/gatehouse/gatehouse/internal/forwardauth"
	"github.com/gatehouse/gatehouse/internal/kit"
	"github.com/gatehouse/gatehouse/internal/web"
	"github.com/gatehouse/gatehouse/session"
	"github.com/prometheus/client_golang/prometheus"
)

// Forward-auth wiring: the ACCESS_RULES watcher, the /auth/forward and
// /auth/request handler (internal/forwardauth), the admin page, readiness,
// audit, metrics and the "rules" command.

// rulesWatchInterval is how often the rules file is polled.
const rulesWatchInterval = 2 * time.Second

// eventForwardAuthRefused is the audit event of a forward-auth refusal.
const eventForwardAuthRefused account.EventName = "forward_auth.refused"

// denyAll is in force when ACCESS_RULES is not set.
var denyAll = &accessrule.Rules{Default: accessrule.Deny}

type forwardAuthFeature struct {
	d         *deps
	watcher   *accessrule.Watcher // nil without ACCESS_RULES
	handler   *forwardauth.Handler
	decisions *prometheus.CounterVec
}

// openAccessRules reads ACCESS_RULES (a broken file refuses the start).
// It runs before the kit, whose Next accepts absolute URLs on the hosts the
// rules name.
func (d *deps) openAccessRules() error {
	d.fa = &forwardAuthFeature{d: d}
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

// rules returns the access rules in force.
func (f *forwardAuthFeature) rules() *accessrule.Rules {
	if f.watcher == nil {
		return denyAll
	}
	return f.watcher.Rules()
}

// externalNext accepts an absolute `next` on a host the rules name or under
// COOKIE_DOMAIN, https only (http too with --dev).
func (d *deps) externalNext(next string) (string, bool) {
	return accessrule.ExternalNext(next, func(host string) bool {
		return d.fa.rules().CoversHost(host) || accessrule.UnderDomain(host, d.cfg.CookieDomain)
	}, d.cfg.Dev)
}

// openForwardAuth builds the handler, once the API keys exist.
func (d *deps) openForwardAuth() error {
	f := d.fa
	f.decisions = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "gatehouse_forward_auth_decisions_total",
		Help: "Forward-auth answers by verdict and deciding rule.",
	}, []string{"verdict", "rule"})
	d.metrics.Register(f.decisions)
	h, err := forwardauth.New(forwardauth.Config{
		BaseURL:  d.cfg.BaseURL,
		Rules:    f.rules,
		Trusted:  d.ips.IsTrusted,
		ClientIP: d.clientAddr,
		Identify: identify,
		Tokens:   d.api.SigningKeys(),
		Observe:  f.observe,
		Now:      func() time.Time { return d.now() },
	})
	if err != nil {
		return err
	}
	f.handler = h
	return nil
}

// identify is the signed-in user kit.LoadUser resolved for the subrequest.
func identify(r *http.Request) (*forwardauth.Identity, error) {
	u, ok := kit.UserFrom(r.Context())
	sess := session.FromContext(r.Context())
	if !ok || sess == nil {
		return nil, nil
	}
	roles := make([]string, len(u.Roles))
	for i, role := range u.Roles {
		roles[i] = string(role)
	}
	return &forwardauth.Identity{ID: strconv.FormatInt(u.ID, 10), Email: u.Email, Name: u.DisplayName,
		Roles: roles, AMR: kit.AMR(r), Session: sess.Handle()}, nil
}

// observe counts every answer and audits refusals, at most once a minute
// per client address and rule.
func (f *forwardAuthFeature) observe(r *http.Request, o forwardauth.Outcome) {
	rule := o.Decision.RuleName()
	if o.Verdict == forwardauth.VerdictUntrusted {
		rule = "none"
	}
	f.decisions.WithLabelValues(o.Verdict, rule).Inc()
	switch o.Verdict {
	case forwardauth.VerdictDeny, forwardauth.VerdictMalformed, forwardauth.VerdictUntrusted:
	default:
		return
	}
	ip := f.d.clientIP(r)
	if !f.d.guard.AuditNow(r.Context(), "forward_auth|"+ip+"|"+rule) {
		return
	}
	e := account.Event{Name: eventForwardAuthRefused, Outcome: account.OutcomeDenied, IP: ip, UserAgent: r.UserAgent(),
		Detail: o.Verdict + " by " + rule + ": " + o.Target}
	if o.Verdict != forwardauth.VerdictDeny {
		e.Detail = o.Verdict + ": " + o.Decision.Reason
	}
	if o.User != nil {
		e.UserID, _ = strconv.ParseInt(o.User.ID, 10, 64)
	}
	_ = f.d.accounts.Record(context.WithoutCancel(r.Context()), e)
}

// adminAccess shows the rules in force and the last reload error.
func (s *Server) adminAccess(w http.ResponseWriter, r *http.Request) {
	f := s.d.fa
	rs := f.rules()
	data := web.AdminAccess{File: s.cfg.AccessRules, Default: string(rs.Default), CookieDomain: s.cfg.CookieDomain}
	for i := range rs.Rules {
		data.Rules = append(data.Rules, rs.Describe(i))
	}
	if f.watcher != nil {
		st := f.watcher.Status()
		data.LoadedAt = st.LoadedAt
		if st.Err != nil {
			data.Error, data.ErrorAt = st.Err.Error(), st.ErrAt
		}
	}
	p := s.k.Page(r, "Access rules")
	p.Data = data
	s.k.Show(w, r, http.StatusOK, "admin_access", p)
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
