package forwardauth

import (
	"context"
	"net/http"
	"strconv"

	"github.com/gatehouse/gatehouse/accessrule"
	"github.com/gatehouse/gatehouse/internal/account"
	"github.com/gatehouse/gatehouse/internal/kit"
	"github.com/gatehouse/gatehouse/internal/web"
	"github.com/gatehouse/gatehouse/session"
	"github.com/prometheus/client_golang/prometheus"
)

// EventRefused is the audit event of a forward-auth refusal.
const EventRefused account.EventName = "forward_auth.refused"

// denyAll is in force when ACCESS_RULES is not set.
var denyAll = &accessrule.Rules{Default: accessrule.Deny}

// Site is forward-auth as the server runs it, on the page kit: the rules in
// force (from a watched file, or deny-all without one), the session's user
// as the subrequests' identity, the audit and metrics of every outcome, and
// the administrators' page of the rules.
type Site struct {
	k            *kit.Kit
	watcher      *accessrule.Watcher
	file         string
	cookieDomain string
	auditNow     func(ctx context.Context, key string) bool
	decisions    *prometheus.CounterVec
}

// SiteConfig is what the server hands a [Site].
type SiteConfig struct {
	// Kit is the page kit.
	Kit *kit.Kit
	// Watcher keeps the rules of File; nil without ACCESS_RULES.
	Watcher *accessrule.Watcher
	// File and CookieDomain are the settings, shown on the admin page.
	File, CookieDomain string
	// AuditNow reports whether a refusal under key should be audited now
	// (the guard's throttle of refusal records).
	AuditNow func(ctx context.Context, key string) bool
	// Register adds the decision counter to the server's metrics.
	Register func(prometheus.Collector)
}

// NewSite returns the forward-auth site of a server.
func NewSite(c SiteConfig) *Site {
	s := &Site{k: c.Kit, watcher: c.Watcher, file: c.File, cookieDomain: c.CookieDomain, auditNow: c.AuditNow}
	s.decisions = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "gatehouse_forward_auth_decisions_total",
		Help: "Forward-auth answers by verdict and deciding rule.",
	}, []string{"verdict", "rule"})
	c.Register(s.decisions)
	return s
}

// Rules returns the access rules in force.
func (s *Site) Rules() *accessrule.Rules {
	if s.watcher == nil {
		return denyAll
	}
	return s.watcher.Rules()
}

// Identify is the signed-in user kit.LoadUser resolved for the subrequest.
func (s *Site) Identify(r *http.Request) (*Identity, error) {
	u, ok := kit.UserFrom(r.Context())
	sess := session.FromContext(r.Context())
	if !ok || sess == nil {
		return nil, nil
	}
	roles := make([]string, len(u.Roles))
	for i, role := range u.Roles {
		roles[i] = string(role)
	}
	return &Identity{ID: strconv.FormatInt(u.ID, 10), Email: u.Email, Name: u.DisplayName,
		Roles: roles, AMR: kit.AMR(r), Session: sess.Handle()}, nil
}

// Observe counts every answer and audits refusals, at most once a minute
// per client address and rule.
func (s *Site) Observe(r *http.Request, o Outcome) {
	rule := o.Decision.RuleName()
	if o.Verdict == VerdictUntrusted {
		rule = "none"
	}
	s.decisions.WithLabelValues(o.Verdict, rule).Inc()
	switch o.Verdict {
	case VerdictDeny, VerdictMalformed, VerdictUntrusted:
	default:
		return
	}
	ip := s.k.IP(r)
	if !s.auditNow(r.Context(), "forward_auth|"+ip+"|"+rule) {
		return
	}
	e := account.Event{Name: EventRefused, Outcome: account.OutcomeDenied, IP: ip, UserAgent: r.UserAgent(),
		Detail: o.Verdict + " by " + rule + ": " + o.Target}
	if o.Verdict != VerdictDeny {
		e.Detail = o.Verdict + ": " + o.Decision.Reason
	}
	if o.User != nil {
		e.UserID, _ = strconv.ParseInt(o.User.ID, 10, 64)
	}
	_ = s.k.Accounts().Record(context.WithoutCancel(r.Context()), e)
}

// AdminAccess shows the rules in force and the last reload error
// (GET /admin/access, administrators only).
func (s *Site) AdminAccess(w http.ResponseWriter, r *http.Request) {
	rs := s.Rules()
	data := web.AdminAccess{File: s.file, Default: string(rs.Default), CookieDomain: s.cookieDomain}
	for i := range rs.Rules {
		data.Rules = append(data.Rules, rs.Describe(i))
	}
	if s.watcher != nil {
		st := s.watcher.Status()
		data.LoadedAt = st.LoadedAt
		if st.Err != nil {
			data.Error, data.ErrorAt = st.Err.Error(), st.ErrAt
		}
	}
	p := s.k.Page(r, "Access rules")
	p.Data = data
	s.k.Show(w, r, http.StatusOK, "admin_access", p)
}
