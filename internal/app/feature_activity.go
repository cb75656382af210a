package app

import "net/http"

// Audit views: a user's own activity and the admins' audit search.

// routesActivity adds /account/activity and /admin/audit.
func (s *Server) routesActivity(pages *http.ServeMux, auth func(http.Handler) http.Handler, admin func(http.Handler) http.Handler) {
}
