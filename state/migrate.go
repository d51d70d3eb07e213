package state

import (
	"context"
	"database/sql"
	"fmt"
)

// migrations are the schema, one step per version: migrations[i] takes the
// database from user_version i to i+1. Append only; never edit a step that
// has shipped.
var migrations = []string{
	// 1: the initial schema.
	`
CREATE TABLE runs (
	id          INTEGER PRIMARY KEY,
	command     TEXT    NOT NULL,
	config_path TEXT    NOT NULL DEFAULT '',
	config_hash TEXT    NOT NULL DEFAULT '',
	pid         INTEGER NOT NULL DEFAULT 0,
	started_at  INTEGER NOT NULL,
	ended_at    INTEGER,
	status      TEXT    NOT NULL CHECK (status IN ('running', 'ok', 'failed')),
	error       TEXT    NOT NULL DEFAULT ''
);
CREATE TABLE services (
	name          TEXT    PRIMARY KEY,
	image         TEXT    NOT NULL DEFAULT '',
	config_hash   TEXT    NOT NULL DEFAULT '',
	depends_on    TEXT    NOT NULL DEFAULT '[]',
	desired       INTEGER NOT NULL DEFAULT 0,
	container_id  TEXT    NOT NULL DEFAULT '',
	state         TEXT    NOT NULL DEFAULT '',
	health        TEXT    NOT NULL DEFAULT '',
	restarts      INTEGER NOT NULL DEFAULT 0,
	started_at    INTEGER,
	last_probe    TEXT    NOT NULL DEFAULT '',
	last_probe_at INTEGER,
	waiting_on    TEXT    NOT NULL DEFAULT '',
	failed_reason TEXT    NOT NULL DEFAULT '',
	updated_at    INTEGER NOT NULL
);
CREATE TABLE health_transitions (
	id         INTEGER PRIMARY KEY,
	service    TEXT    NOT NULL,
	from_state TEXT    NOT NULL,
	to_state   TEXT    NOT NULL,
	reason     TEXT    NOT NULL DEFAULT '',
	at         INTEGER NOT NULL
);
CREATE INDEX health_transitions_service ON health_transitions (service, id);
CREATE TABLE events (
	id       INTEGER PRIMARY KEY,
	at       INTEGER NOT NULL,
	severity TEXT    NOT NULL CHECK (severity IN ('info', 'warn', 'error')),
	kind     TEXT    NOT NULL,
	service  TEXT,
	message  TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX events_service ON events (service, id);
CREATE INDEX events_kind ON events (kind, id);
CREATE INDEX events_at ON events (at);
CREATE TABLE queries (
	id                INTEGER PRIMARY KEY,
	at                INTEGER NOT NULL,
	user              TEXT    NOT NULL DEFAULT '',
	statement_hash    TEXT    NOT NULL,
	statement_preview TEXT    NOT NULL DEFAULT '',
	source            TEXT    NOT NULL DEFAULT '',
	duration_ms       INTEGER NOT NULL DEFAULT 0,
	rows              INTEGER NOT NULL DEFAULT 0,
	outcome           TEXT    NOT NULL CHECK (outcome IN ('ok', 'failed', 'cancelled')),
	error             TEXT    NOT NULL DEFAULT ''
);
CREATE TABLE report_runs (
	id          INTEGER PRIMARY KEY,
	report      TEXT    NOT NULL,
	run_key     TEXT    NOT NULL,
	started_at  INTEGER NOT NULL,
	ended_at    INTEGER,
	status      TEXT    NOT NULL CHECK (status IN ('running', 'ok', 'failed')),
	run_as      TEXT    NOT NULL DEFAULT '',
	rows        INTEGER NOT NULL DEFAULT 0,
	bytes       INTEGER NOT NULL DEFAULT 0,
	duration_ms INTEGER NOT NULL DEFAULT 0,
	error       TEXT    NOT NULL DEFAULT '',
	path        TEXT    NOT NULL DEFAULT '',
	UNIQUE (report, run_key)
);
CREATE INDEX report_runs_report ON report_runs (report, id);
CREATE TABLE verify_results (
	id          INTEGER PRIMARY KEY,
	at          INTEGER NOT NULL,
	source      TEXT    NOT NULL,
	destination TEXT    NOT NULL,
	expected    TEXT    NOT NULL CHECK (expected IN ('allow', 'deny')),
	observed    TEXT    NOT NULL,
	ok          INTEGER NOT NULL,
	detail      TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX verify_results_pair ON verify_results (source, destination, id);
`,
	// 2: moat verify --capture's evidence (state/capture.go).
	`
CREATE TABLE verify_captures (
	id       INTEGER PRIMARY KEY,
	at       INTEGER NOT NULL,
	ok       INTEGER NOT NULL,
	packets  INTEGER NOT NULL DEFAULT 0,
	bytes    INTEGER NOT NULL DEFAULT 0,
	findings INTEGER NOT NULL DEFAULT 0,
	evidence TEXT    NOT NULL
);
`,
	// 3: a service's row holds the whole supervisor.ServiceStatus
	// (state/services.go): the reason of its phase (failed_reason held it
	// for failures only; the latest transition, recorded with the row, has
	// it), the next try, the planned ports. failed_reason and last_probe_at
	// are no longer written; they stay so that an older moat still
	// supervising the stack can go on writing its rows.
	`
ALTER TABLE services ADD COLUMN reason TEXT NOT NULL DEFAULT '';
ALTER TABLE services ADD COLUMN next_try INTEGER;
ALTER TABLE services ADD COLUMN ports TEXT NOT NULL DEFAULT '[]';
UPDATE services SET reason = coalesce((SELECT t.reason FROM health_transitions t
	WHERE t.id = (SELECT max(id) FROM health_transitions WHERE service = services.name)
		AND t.to_state = services.state), failed_reason);
`,
}

// migrate brings the database to len(steps), one transaction per step. Each
// transaction reads the version under the write lock (BEGIN IMMEDIATE), so
// two moat processes opening the file at once never apply a step twice.
func migrate(ctx context.Context, db *sql.DB, path string, steps []string) error {
	for {
		done, err := migrateStep(ctx, db, path, steps)
		if err != nil || done {
			return err
		}
	}
}

// migrateStep applies the next step, or reports done when there is none.
func migrateStep(ctx context.Context, db *sql.DB, path string, steps []string) (done bool, err error) {
	err = inTx(ctx, db, func(tx *sql.Tx) error {
		var v int
		if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
			return fmt.Errorf("read the schema version: %w", err)
		}
		switch {
		case v > len(steps):
			return fmt.Errorf("schema version %d is newer than this moat knows (%d): "+
				"the file was written by a newer moat; run that moat, or move the file away to start afresh", v, len(steps))
		case v == len(steps):
			done = true
			return nil
		}
		if _, err := tx.ExecContext(ctx, steps[v]); err != nil {
			return fmt.Errorf("migration %d: %w", v+1, err)
		}
		_, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", v+1))
		return err
	})
	if err != nil {
		return false, fmt.Errorf("state: %s: %w", path, err)
	}
	return done, nil
}
