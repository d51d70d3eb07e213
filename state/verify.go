package state

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// VerifyResult is one check of `moat verify`: could Source reach
// Destination, and was that what the intentions say?
type VerifyResult struct {
	ID          int64
	At          time.Time // zero means now
	Source      string
	Destination string
	Expected    string // allow or deny
	Observed    string // what happened: allow, deny, or an error class
	OK          bool   // Observed matches Expected
	Detail      string
}

// Verify expectations and observations.
const (
	Allow = "allow"
	Deny  = "deny"
)

const verifyCols = `id, at, source, destination, expected, observed, ok, detail`

func scanVerify(s rowScanner) (v VerifyResult, err error) {
	err = s.Scan(&v.ID, msTime{&v.At}, &v.Source, &v.Destination, &v.Expected, &v.Observed, &v.OK, &v.Detail)
	return v, err
}

// RecordVerify stores one verify pass's results in a single transaction.
func (s *Store) RecordVerify(ctx context.Context, results []VerifyResult) error {
	now := time.Now()
	err := inTx(ctx, s.w, func(tx *sql.Tx) error {
		for _, v := range results {
			if err := insertVerify(ctx, tx, v, now); err != nil {
				return fmt.Errorf("%s -> %s: %w", v.Source, v.Destination, err)
			}
		}
		return nil
	})
	return wrapf(err, "record verify results")
}

func insertVerify(ctx context.Context, tx *sql.Tx, v VerifyResult, now time.Time) error {
	if err := oneOf("expected", v.Expected, Allow, Deny); err != nil {
		return err
	}
	if v.At.IsZero() {
		v.At = now
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO verify_results (at, source, destination, expected, observed, ok, detail)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, v.At.UnixMilli(), v.Source, v.Destination, v.Expected, v.Observed, v.OK, v.Detail)
	return err
}

// LatestVerify returns the newest result of every source/destination pair,
// ordered by source then destination.
func (s *Store) LatestVerify(ctx context.Context) ([]VerifyResult, error) {
	all, err := queryAll(ctx, s.r, scanVerify, `SELECT `+verifyCols+` FROM verify_results
		WHERE id IN (SELECT max(id) FROM verify_results GROUP BY source, destination)
		ORDER BY source, destination`)
	return all, wrapf(err, "latest verify results")
}
