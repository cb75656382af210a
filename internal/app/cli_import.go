package app

import (
	"context"
	"io"
)

// importCommand runs `gatehouse user import FILE`.
func importCommand(ctx context.Context, cfg *Config, args []string, stdout, stderr io.Writer) error {
	return &UsageError{Msg: "user import is not available yet"}
}
