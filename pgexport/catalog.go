package pgexport

import (
	"context"

	"github.com/novacron/novacron/storage/postgres"
)

// Catalog lists the objects of a kind that PostgreSQL holds as live (not
// marked removed). A resync needs it to mark removed the objects the FSM
// no longer has, whose removal was among the changes the journal lost.
// *postgres.DB is one.
type Catalog interface {
	LiveIDs(ctx context.Context, clusterID string, kind postgres.Kind) ([]string, error)
}

// removableKinds are the kinds a resync sweeps: those postgres.Tx.Delete
// marks removed and the exporter writes. (Snapshots are not exported.)
var removableKinds = []postgres.Kind{
	postgres.KindProject, postgres.KindUser, postgres.KindAPIKey, postgres.KindNode, postgres.KindVM, postgres.KindVolume,
}
