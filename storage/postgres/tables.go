package postgres

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
)

// objectTable describes one table of cluster objects for the generic upsert
// and delete: its key after cluster_id, its other columns (raft_index last),
// and the column that marks the object gone.
type objectTable struct {
	name    string
	key     string
	cols    []string
	goneCol string // deleted_at, revoked_at, or "" for a record never removed
	upsert  string // the SQL, built once
	gone    string
	live    string // the keys not marked gone
}

// newObjectTable builds the statements of a table. The upsert skips a row
// whose raft_index is older than the stored one, so a replayed event never
// moves an object back; it clears the gone mark, since an object upserted
// after a removal at a lower index exists again (a project re-created
// under its old name).
func newObjectTable(name, key string, cols []string, goneCol string) *objectTable {
	t := &objectTable{name: name, key: key, cols: slices.Concat(cols, []string{"raft_index"}), goneCol: goneCol}
	all := slices.Concat([]string{"cluster_id", key}, t.cols)
	params := make([]string, len(all))
	for i := range all {
		params[i] = fmt.Sprintf("$%d", i+1)
	}
	sets := make([]string, 0, len(t.cols)+1)
	for _, c := range t.cols {
		sets = append(sets, fmt.Sprintf("%s = EXCLUDED.%s", c, c))
	}
	if goneCol != "" {
		sets = append(sets, goneCol+" = NULL")
	}
	t.upsert = fmt.Sprintf("INSERT INTO %s (%s) VALUES (%s) ON CONFLICT (cluster_id, %s) DO UPDATE SET %s WHERE %s.raft_index <= EXCLUDED.raft_index RETURNING true",
		name, strings.Join(all, ", "), strings.Join(params, ", "), key, strings.Join(sets, ", "), name)
	if goneCol != "" {
		t.gone = fmt.Sprintf("UPDATE %s SET %s = $3, raft_index = $4 WHERE cluster_id = $1 AND %s = $2 AND raft_index <= $4",
			name, goneCol, key)
		t.live = fmt.Sprintf("SELECT %s FROM %s WHERE cluster_id = $1 AND %s IS NULL", key, name, goneCol)
	}
	return t
}

// upsertRow writes one row: vals are the key then cols in order, without
// cluster_id and raft_index. It reports whether the row was written (false:
// the stored row is newer).
func (t *Tx) upsertRow(ctx context.Context, tbl *objectTable, index uint64, vals ...any) (bool, error) {
	if len(vals) != len(tbl.cols) { // the key plus cols minus raft_index
		panic(fmt.Sprintf("postgres: %s takes %d values, got %d", tbl.name, len(tbl.cols), len(vals)))
	}
	if id, _ := vals[0].(string); id == "" {
		return false, fmt.Errorf("%w: %s row without %s", ErrInvalidRow, tbl.name, tbl.key)
	}
	ix, err := bigint("raft index", index)
	if err != nil {
		return false, err
	}
	args := append(append([]any{t.cluster}, vals...), ix)
	rows, err := t.tx.Query(ctx, tbl.upsert, args...)
	if err != nil {
		return false, fmt.Errorf("postgres: upsert %s: %w", tbl.name, err)
	}
	written := rows.Next()
	rows.Close()
	if err := rows.Err(); err != nil {
		return false, fmt.Errorf("postgres: upsert %s %v: %w", tbl.name, vals[0], err)
	}
	return written, nil
}

// Kind names a table of objects that can be removed, for Delete.
type Kind string

// The kinds of objects Delete marks as removed.
const (
	KindProject  Kind = "project"
	KindUser     Kind = "user"
	KindAPIKey   Kind = "api_key"
	KindNode     Kind = "node"
	KindVM       Kind = "vm"
	KindVolume   Kind = "volume"
	KindSnapshot Kind = "snapshot"
)

// removable maps each Kind to its table.
var removable = map[Kind]*objectTable{
	KindProject:  projectsTable,
	KindUser:     usersTable,
	KindAPIKey:   apiKeysTable,
	KindNode:     nodesTable,
	KindVM:       vmsTable,
	KindVolume:   volumesTable,
	KindSnapshot: snapshotsTable,
}

// Delete marks object id of kind as removed at time at by the change at Raft
// index index (an API key as revoked): the row stays, as the history of what
// existed. A VM's current configuration version ends at at. An object never
// exported, or already changed at a later index, is left alone.
func (t *Tx) Delete(ctx context.Context, kind Kind, id string, at time.Time, index uint64) error {
	tbl, ok := removable[kind]
	if !ok {
		return fmt.Errorf("%w: no kind %q to delete", ErrInvalidRow, kind)
	}
	ix, err := bigint("raft index", index)
	if err != nil {
		return err
	}
	if at.IsZero() {
		return fmt.Errorf("%w: %s %s removed at no time", ErrInvalidRow, kind, id)
	}
	tag, err := t.tx.Exec(ctx, tbl.gone, t.cluster, id, at, ix)
	if err != nil {
		return fmt.Errorf("postgres: delete %s %s: %w", kind, id, err)
	}
	if kind == KindVM && tag.RowsAffected() > 0 {
		return t.closeConfig(ctx, id, at)
	}
	return nil
}
