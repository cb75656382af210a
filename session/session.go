package session

import (
	"net/http"
	"sync"
	"time"
)

// Session is one visitor's session during a request. Get it with
// FromContext inside Manager.Handler. Its methods are safe for concurrent
// use. Changes made after the response header is written are not saved.
type Session struct {
	m *Manager

	mu         sync.Mutex
	id         string // handle of token; "" until a token is issued
	token      string // cookie value (server-side stores)
	userID     string
	st         state
	stored     bool      // the store (or cookie) holds id
	issued     bool      // token is new: send the cookie
	modified   bool      // must be saved
	cookieSeen bool      // the request carried the session cookie
	cookieExp  time.Time // expiry of the persistent cookie the browser holds
	oldIDs     []string  // records to delete at commit
	committed  bool
	req        *http.Request // for the client's address and user agent, read when needed
	clientRead bool
	reqIP      string
	reqUA      string
}

// client returns the request's client address and user agent, bounded. A
// signed-in page seldom needs them (only a new or renewed session records
// them), so they are read on first use.
func (s *Session) client() (ip, ua string) {
	if !s.clientRead && s.req != nil {
		s.reqIP = bound(s.m.clientIP(s.req), maxIP)
		s.reqUA = bound(s.req.UserAgent(), maxUserAgent)
		s.clientRead = true
	}
	return s.reqIP, s.reqUA
}

// reset makes s a fresh anonymous session.
func (s *Session) reset(now time.Time) {
	s.id, s.token, s.userID = "", "", ""
	ip, ua := s.client()
	s.st = state{Created: now.Unix(), LastSeen: now.Unix(), IP: ip, UA: ua}
	s.stored, s.issued, s.cookieExp = false, false, time.Time{}
}

func (s *Session) ensureToken() {
	if s.id == "" {
		s.token, s.id = newToken()
		s.issued = true
	}
}

// forget schedules the stored record for deletion and drops the token.
func (s *Session) forget() {
	if s.stored && s.id != "" && s.m.codec == nil {
		s.oldIDs = append(s.oldIDs, s.id)
	}
	s.id, s.token, s.stored = "", "", false
	s.modified = true
}

// UserID returns the signed-in user's id, or "" for an anonymous session.
func (s *Session) UserID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.userID
}

// Handle returns the session's public handle: the SHA-256 of its token, as
// lowercase hex, which is also its id in the store. It identifies "this
// session" on a sessions page and cannot be turned back into the cookie.
func (s *Session) Handle() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ensureToken()
	return s.id
}

// Login signs userID in: the token is renewed (the old record is deleted),
// the authentication time, client address and user agent are recorded, and
// with remember the session lasts RememberFor in a persistent cookie.
func (s *Session) Login(userID string, remember bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.m.now()
	now := t.Unix()
	s.forget()
	s.ensureToken()
	s.userID = userID
	s.st.AuthAt, s.st.AuthNs, s.st.LastSeen = now, int64(t.Nanosecond()), now
	s.st.IP, s.st.UA = s.client()
	s.st.Remember = remember
}

// Renew gives the session a new token, keeping its contents, and deletes the
// old record. Call it on every change of privilege (login, 2FA step, role
// change, password change).
func (s *Session) Renew() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.forget()
	s.ensureToken()
}

// Destroy ends the session: its record is deleted from the store and the
// cookie removed. The request continues with a fresh anonymous session
// (which is saved only if something, such as a flash, is put in it).
func (s *Session) Destroy() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.forget()
	s.reset(s.m.now())
}

// Get returns the value stored under key, or "".
func (s *Session) Get(key string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.st.Values[key]
}

// Put stores value under key.
func (s *Session) Put(key, value string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.st.Values == nil {
		s.st.Values = make(map[string]string)
	}
	if old, ok := s.st.Values[key]; ok && old == value {
		return
	}
	s.st.Values[key] = value
	s.modified = true
}

// Remove deletes key.
func (s *Session) Remove(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.st.Values[key]; ok {
		delete(s.st.Values, key)
		s.modified = true
	}
}

// Pop returns the value stored under key and removes it.
func (s *Session) Pop(key string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.st.Values[key]
	if ok {
		delete(s.st.Values, key)
		s.modified = true
	}
	return v
}

// AddFlash queues a message to show on the next page.
func (s *Session) AddFlash(msg string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.st.Flashes = append(s.st.Flashes, msg)
	s.modified = true
}

// Flashes returns the queued messages and removes them.
func (s *Session) Flashes() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.st.Flashes
	if len(f) > 0 {
		s.st.Flashes = nil
		s.modified = true
	}
	return f
}

// CreatedAt returns when the session was created.
func (s *Session) CreatedAt() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return unix(s.st.Created)
}

// AuthAt returns when the user signed in, to the nanosecond of the
// Manager's clock (sessions stored before this precision was kept report the
// whole second), or the zero time. Compare it exactly with a per-user
// cut-off such as "sessions valid after".
func (s *Session) AuthAt() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.st.authTime()
}

// LastSeen returns when the session was last recorded as active (updated at
// most once per TouchInterval).
func (s *Session) LastSeen() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return unix(s.st.LastSeen)
}

// IP returns the client address recorded at creation or login.
func (s *Session) IP() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.st.IP
}

// UserAgent returns the User-Agent recorded at creation or login, truncated
// to 256 bytes.
func (s *Session) UserAgent() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.st.UA
}

// Remember reports whether the session was signed in with "remember me".
func (s *Session) Remember() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.st.Remember
}

// Info returns a snapshot of the session's details, with its handle and
// current expiry.
func (s *Session) Info() Info {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ensureToken()
	return s.st.info(s.id, Record{UserID: s.userID, Expiry: s.m.expiry(&s.st)})
}
