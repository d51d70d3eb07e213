package state

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"
)

// DesiredService is a service as the current plan wants it.
type DesiredService struct {
	Name       string
	Image      string
	ConfigHash string
	DependsOn  []string
}

// ObservedService is what moat last saw of a service's container.
type ObservedService struct {
	Name         string
	ContainerID  string
	State        string // container state: "created", "running", "exited", ...
	Health       string // "starting", "healthy", "unhealthy", "failed", ...
	Restarts     int
	StartedAt    time.Time
	LastProbe    string // the last probe's result, as shown to a user
	LastProbeAt  time.Time
	WaitingOn    string // what the service waits for, with the reason
	FailedReason string
	At           time.Time // when observed; zero means now
}

// Service is one row of the services table: desired and observed together.
type Service struct {
	Name       string
	Image      string
	ConfigHash string
	DependsOn  []string
	Desired    bool // in the current plan

	ContainerID  string
	State        string
	Health       string
	Restarts     int
	StartedAt    time.Time
	LastProbe    string
	LastProbeAt  time.Time
	WaitingOn    string
	FailedReason string
	UpdatedAt    time.Time
}

const serviceCols = `name, image, config_hash, depends_on, desired, container_id, state, health, restarts,
	started_at, last_probe, last_probe_at, waiting_on, failed_reason, updated_at`

func scanService(s rowScanner) (v Service, err error) {
	var deps string
	err = s.Scan(&v.Name, &v.Image, &v.ConfigHash, &deps, &v.Desired, &v.ContainerID, &v.State, &v.Health,
		&v.Restarts, msTime{&v.StartedAt}, &v.LastProbe, msTime{&v.LastProbeAt}, &v.WaitingOn,
		&v.FailedReason, msTime{&v.UpdatedAt})
	if err == nil {
		err = json.Unmarshal([]byte(deps), &v.DependsOn)
	}
	return v, err
}

// SetDesired records the plan in one transaction: the given services are
// upserted as desired, every other service is marked not desired (its
// observed columns stay, so an orphan container remains visible).
func (s *Store) SetDesired(ctx context.Context, services []DesiredService) error {
	names, err := desiredNames(services)
	if err != nil {
		return wrapf(err, "set desired services")
	}
	now := time.Now().UnixMilli()
	err = inTx(ctx, s.w, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE services SET desired = 0, updated_at = ?
			WHERE desired = 1 AND name NOT IN (SELECT value FROM json_each(?))`, now, names); err != nil {
			return err
		}
		for _, d := range services {
			if err := upsertDesired(ctx, tx, d, now); err != nil {
				return fmt.Errorf("service %q: %w", d.Name, err)
			}
		}
		return nil
	})
	return wrapf(err, "set desired services")
}

// desiredNames is the JSON array of the services' names, which must be
// present and unique.
func desiredNames(services []DesiredService) (string, error) {
	seen := make(map[string]bool, len(services))
	names := make([]string, 0, len(services))
	for _, d := range services {
		if d.Name == "" || seen[d.Name] {
			return "", fmt.Errorf("service name %q is empty or listed twice", d.Name)
		}
		seen[d.Name] = true
		names = append(names, d.Name)
	}
	b, err := json.Marshal(names)
	return string(b), err
}

func upsertDesired(ctx context.Context, tx *sql.Tx, d DesiredService, now int64) error {
	deps, err := json.Marshal(append([]string{}, d.DependsOn...))
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO services (name, image, config_hash, depends_on, desired, updated_at)
		VALUES (?, ?, ?, ?, 1, ?)
		ON CONFLICT (name) DO UPDATE SET image = excluded.image, config_hash = excluded.config_hash,
			depends_on = excluded.depends_on, desired = 1, updated_at = excluded.updated_at`,
		d.Name, d.Image, d.ConfigHash, string(deps), now)
	return err
}

// UpdateObserved replaces the observed columns of service o.Name, creating
// the row (not desired) if moat sees a service it did not plan.
func (s *Store) UpdateObserved(ctx context.Context, o ObservedService) error {
	if o.Name == "" {
		return wrapf(fmt.Errorf("service name is empty"), "update observed service")
	}
	_, err := s.w.ExecContext(ctx, `INSERT INTO services (name, container_id, state, health, restarts,
			started_at, last_probe, last_probe_at, waiting_on, failed_reason, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET container_id = excluded.container_id, state = excluded.state,
			health = excluded.health, restarts = excluded.restarts, started_at = excluded.started_at,
			last_probe = excluded.last_probe, last_probe_at = excluded.last_probe_at,
			waiting_on = excluded.waiting_on, failed_reason = excluded.failed_reason,
			updated_at = excluded.updated_at`,
		o.Name, o.ContainerID, o.State, o.Health, o.Restarts, msValue(o.StartedAt), o.LastProbe,
		msValue(o.LastProbeAt), o.WaitingOn, o.FailedReason, orNow(o.At).UnixMilli())
	return wrapf(err, "update observed service %q", o.Name)
}

// Services returns every service row, desired or not, by name.
func (s *Store) Services(ctx context.Context) ([]Service, error) {
	all, err := queryAll(ctx, s.r, scanService, `SELECT `+serviceCols+` FROM services ORDER BY name`)
	return all, wrapf(err, "list services")
}

// Service returns the row of service name; ok is false when there is none.
func (s *Store) Service(ctx context.Context, name string) (v Service, ok bool, err error) {
	v, ok, err = queryFirst(ctx, s.r, scanService, `SELECT `+serviceCols+` FROM services WHERE name = ?`, name)
	return v, ok, wrapf(err, "service %q", name)
}
