package db

import (
	"context"
	"fmt"
	"time"

	"github.com/gatehouse/gatehouse/internal/account"
)

// Devices is the repository of the devices each account signed in from; it
// implements [account.DeviceStore]. The table (migration 0051) holds MACs
// of device descriptions only.
type Devices struct{ d *DB }

// Devices returns the known-device repository.
func (d *DB) Devices() *Devices { return &Devices{d} }

var _ account.DeviceStore = (*Devices)(nil)

type deviceQueries struct{ list, touch, insert, prune string }

var deviceSQLite = deviceQueries{
	list:   `SELECT id, mac, last_seen FROM known_devices WHERE user_id = ? ORDER BY last_seen DESC, id DESC LIMIT ?`,
	touch:  `UPDATE known_devices SET mac = ?, last_seen = ? WHERE id = ?`,
	insert: `INSERT INTO known_devices (user_id, mac, first_seen, last_seen) VALUES (?, ?, ?, ?)`,
	prune: `DELETE FROM known_devices WHERE user_id = ? AND id NOT IN
(SELECT id FROM known_devices WHERE user_id = ? ORDER BY last_seen DESC, id DESC LIMIT ?)`,
}

var devicePostgres = deviceQueries{
	list:   rebind(deviceSQLite.list),
	touch:  rebind(deviceSQLite.touch),
	insert: rebind(deviceSQLite.insert),
	prune:  rebind(deviceSQLite.prune),
}

func (r *Devices) q() *deviceQueries {
	if r.d.dialect == Postgres {
		return &devicePostgres
	}
	return &deviceSQLite
}

// KnownDevices returns the user's devices, most recently seen first.
func (r *Devices) KnownDevices(ctx context.Context, userID int64, limit int) ([]account.KnownDevice, error) {
	ctx, cancel := r.d.bound(ctx)
	defer cancel()
	rows, err := r.d.read.QueryContext(ctx, r.q().list, userID, max(limit, 1))
	if err != nil {
		return nil, fmt.Errorf("db: known devices: %w", err)
	}
	defer rows.Close()
	var out []account.KnownDevice
	for rows.Next() {
		var k account.KnownDevice
		if err := rows.Scan(&k.ID, &k.MAC, timeScanner{&k.LastSeen}); err != nil {
			return nil, fmt.Errorf("db: known devices: %w", err)
		}
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("db: known devices: %w", err)
	}
	return out, nil
}

// TouchDevice records that the device was seen at now, re-signed.
func (r *Devices) TouchDevice(ctx context.Context, id int64, mac []byte, now time.Time) error {
	ctx, cancel := r.d.bound(ctx)
	defer cancel()
	if _, err := r.d.write.ExecContext(ctx, r.q().touch, mac, r.d.ts(now), id); err != nil {
		return fmt.Errorf("db: touch device: %w", err)
	}
	return nil
}

// AddDevice remembers a device and keeps only the keep most recent ones.
func (r *Devices) AddDevice(ctx context.Context, userID int64, mac []byte, now time.Time, keep int) error {
	ctx, cancel := r.d.bound(ctx)
	defer cancel()
	d, q := r.d, r.q()
	tx, err := d.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("db: add device: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, q.insert, userID, mac, d.ts(now), d.ts(now)); err != nil {
		return fmt.Errorf("db: add device: %w", err)
	}
	if _, err := tx.ExecContext(ctx, q.prune, userID, userID, max(keep, 1)); err != nil {
		return fmt.Errorf("db: add device: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("db: add device: %w", err)
	}
	return nil
}
