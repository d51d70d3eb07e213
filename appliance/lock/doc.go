// Package lock is the supervisor lock of a data directory: the moat that
// supervises a stack holds <data_dir>/moat.lock exclusively and writes its
// pid there, so that a second `moat up` refuses to supervise the same stack
// and `moat down`, `moat status` and `moat restart` find the one that does.
//
// Imported by: main and appliance.
package lock
