//go:build unix

package keyring

import (
	"fmt"
	"os"
	"syscall"
)

// lockFile takes an exclusive advisory lock on path + ".lock", creating the
// lock file (mode 0600) if needed, and returns the function that releases
// it. The lock is held per open file, so it also excludes other File values
// in the same process.
func lockFile(path string) (unlock func(), err error) {
	lf, err := os.OpenFile(path+".lock", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("keyring: locking keys file: %w", err)
	}
	for {
		err = syscall.Flock(int(lf.Fd()), syscall.LOCK_EX)
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		lf.Close()
		return nil, fmt.Errorf("keyring: locking keys file: %w", err)
	}
	return func() {
		syscall.Flock(int(lf.Fd()), syscall.LOCK_UN)
		lf.Close()
	}, nil
}
