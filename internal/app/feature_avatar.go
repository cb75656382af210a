package app

import (
	"net/http"

	"github.com/gatehouse/gatehouse/internal/account"
)

// Profile pictures.

// avatarFeature holds the picture store.
type avatarFeature struct{ d *deps }

func newAvatarFeature(d *deps) (*avatarFeature, error) { return &avatarFeature{d: d}, nil }

// routesAvatar adds the upload routes to pages and the picture route to root.
func (s *Server) routesAvatar(pages, root *http.ServeMux, auth func(http.Handler) http.Handler) {}

// avatarURL is the URL of the user's picture, or "" when there is none.
func (d *deps) avatarURL(u account.User) string { return "" }
