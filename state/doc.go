// Package state is moat's durable memory: a SQLite database at
// <data_dir>/moat.db (modernc.org/sqlite, pure Go) holding what moat started
// (runs), what it wants and sees (services), every health transition, the
// event timeline, the queries it ran (a statement hash and a short preview,
// never a password), report runs and the results of `moat verify` (with
// the evidence of `moat verify --capture`: counts and descriptions, never a
// secret).
//
// The database runs in WAL mode with one writer connection, so goroutines
// never meet SQLITE_BUSY among themselves, and a busy timeout for other moat
// processes. Every write method returns only after its transaction has
// committed: a caller may report an event (log, dashboard, SSE) once
// RecordEvent has returned, and a moat killed with SIGKILL right after loses
// nothing it reported. (synchronous=NORMAL: safe against process death; a
// power cut may lose the last transactions, never corrupt the file.)
//
// The schema is migrated in code on Open (PRAGMA user_version); a database
// written by a newer moat is refused rather than guessed at.
//
// Times are stored as unix milliseconds (UTC) and returned as UTC time.Time;
// a zero time.Time is stored as NULL.
//
// A service's row holds its supervisor.ServiceStatus, the one status shape
// of moat: that type is all it imports of moat. report reaches it only
// through its RunStore interface, adapted by the caller.
//
// Imported by: main, appliance and webui.
package state
