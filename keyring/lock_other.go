//go:build !unix

package keyring

import "errors"

// lockFile is not supported without flock: writing a keys file is refused
// rather than risking lost updates. Reading works everywhere.
func lockFile(path string) (unlock func(), err error) {
	return nil, errors.New("keyring: writing a keys file needs file locking, which this platform lacks")
}
