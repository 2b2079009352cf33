package postgres

import "errors"

var (
	// ErrSchemaTooNew means the database was migrated by a newer NovaCron
	// than this binary: writing to a schema it does not know could corrupt
	// the record, so Open refuses. Upgrade this agent, or point it at
	// another database.
	ErrSchemaTooNew = errors.New("postgres: the database schema is newer than this NovaCron knows")

	// ErrSchemaUnknown means the database's migration history is not one
	// NovaCron writes (versions missing below the highest): a development
	// build's, or a hand-edited one.
	ErrSchemaUnknown = errors.New("postgres: the database holds a schema migration this NovaCron does not know")

	// ErrInsecureDSNFile means a DSN file may be read by any user of the
	// host; it holds the database password, so it is refused.
	ErrInsecureDSNFile = errors.New("postgres: the DSN file is readable by every user")

	// ErrInvalidDSN means a DSN is empty or cannot be parsed.
	ErrInvalidDSN = errors.New("postgres: invalid DSN")

	// ErrInvalidRange means a time range or step is unusable: empty, a
	// step that is not positive, or more points or days than one call may
	// produce.
	ErrInvalidRange = errors.New("postgres: invalid time range")

	// ErrInvalidRow means a row cannot be stored as given (no ID, a Raft
	// index beyond what a bigint holds).
	ErrInvalidRow = errors.New("postgres: invalid row")
)
