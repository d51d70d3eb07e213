package state

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"moat/supervisor"
)

// DesiredService is a service as the current plan wants it. DependsOn and
// Ports are the spec's part of its status (supervisor.SpecStatus).
type DesiredService struct {
	Name       string
	Image      string
	ConfigHash string
	DependsOn  []supervisor.Dependency
	Ports      []supervisor.Port
}

// Service is one row of the services table: the service's status as moat
// last recorded it (UpdateObserved, with the plan's ports and dependencies
// from SetDesired), beside the rest of the plan.
type Service struct {
	supervisor.ServiceStatus
	Image      string
	ConfigHash string
	Desired    bool      // in the current plan
	UpdatedAt  time.Time // when the row last changed
}

const serviceCols = `name, image, config_hash, depends_on, ports, desired, container_id, state, health, restarts,
	started_at, last_probe, waiting_on, reason, next_try, updated_at`

func scanService(s rowScanner) (v Service, err error) {
	var deps, ports string
	err = s.Scan(&v.Name, &v.Image, &v.ConfigHash, &deps, &ports, &v.Desired, &v.InstanceID, &v.Phase, &v.Health,
		&v.Restarts, msTime{&v.StartedAt}, &v.LastProbe, &v.WaitingOn, &v.Reason, msTime{&v.NextTry},
		msTime{&v.UpdatedAt})
	if err != nil {
		return v, err
	}
	if v.DependsOn, err = decodeDeps(deps); err != nil {
		return v, fmt.Errorf("service %q: depends_on: %w", v.Name, err)
	}
	var ps []supervisor.Port // stored as the spec writes them: lossless
	if err := json.Unmarshal([]byte(ports), &ps); err != nil {
		return v, fmt.Errorf("service %q: ports: %w", v.Name, err)
	}
	if len(ps) > 0 {
		v.Ports = ps
	}
	return v, nil
}

// encodeDeps is the depends_on column: a JSON array of "service:condition".
func encodeDeps(deps []supervisor.Dependency) (string, error) {
	out := make([]string, len(deps))
	for i, d := range deps {
		out[i] = d.Service + ":" + string(d.Condition)
	}
	b, err := json.Marshal(out)
	return string(b), err
}

func decodeDeps(col string) ([]supervisor.Dependency, error) {
	var ss []string
	if err := json.Unmarshal([]byte(col), &ss); err != nil {
		return nil, err
	}
	var out []supervisor.Dependency
	for _, s := range ss {
		name, cond, _ := strings.Cut(s, ":")
		out = append(out, supervisor.Dependency{Service: name, Condition: supervisor.Condition(cond)})
	}
	return out, nil
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
	deps, err := encodeDeps(d.DependsOn)
	if err != nil {
		return err
	}
	ports, err := json.Marshal(append([]supervisor.Port{}, d.Ports...))
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO services (name, image, config_hash, depends_on, ports, desired, updated_at)
		VALUES (?, ?, ?, ?, ?, 1, ?)
		ON CONFLICT (name) DO UPDATE SET image = excluded.image, config_hash = excluded.config_hash,
			depends_on = excluded.depends_on, ports = excluded.ports, desired = 1, updated_at = excluded.updated_at`,
		d.Name, d.Image, d.ConfigHash, deps, string(ports), now)
	return err
}

// UpdateObserved records st as service st.Name's status at time at (zero:
// now), creating the row (not desired) if moat sees a service it did not
// plan. st's Ports and DependsOn are left as SetDesired recorded them: they
// are the plan's, not observed.
func (s *Store) UpdateObserved(ctx context.Context, st supervisor.ServiceStatus, at time.Time) error {
	if st.Name == "" {
		return wrapf(fmt.Errorf("service name is empty"), "update observed service")
	}
	_, err := s.w.ExecContext(ctx, `INSERT INTO services (name, container_id, state, health, restarts,
			started_at, last_probe, waiting_on, reason, next_try, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET container_id = excluded.container_id, state = excluded.state,
			health = excluded.health, restarts = excluded.restarts, started_at = excluded.started_at,
			last_probe = excluded.last_probe, waiting_on = excluded.waiting_on, reason = excluded.reason,
			next_try = excluded.next_try, updated_at = excluded.updated_at`,
		st.Name, st.InstanceID, string(st.Phase), string(st.Health), st.Restarts, msValue(st.StartedAt),
		st.LastProbe, st.WaitingOn, st.Reason, msValue(st.NextTry), orNow(at).UnixMilli())
	return wrapf(err, "update observed service %q", st.Name)
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
