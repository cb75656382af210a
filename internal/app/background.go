package app

import "context"

// startBackground starts the background loops of optional capabilities.
func (d *deps) startBackground(run func(name string, f func(context.Context) error)) {
	d.email.Start(run)
}
