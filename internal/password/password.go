// Package password hashes and checks users' login passwords. It is the only
// place that knows how a password is stored, so that the users' FSM state and
// the API hold an opaque string and never choose an algorithm.
//
// The algorithm is argon2id (RFC 9106), the first choice of the RFC and of
// OWASP's Password Storage Cheat Sheet: it is memory-hard, so a stolen
// snapshot of the users' table costs an attacker memory as well as time per
// guess, which GPUs and ASICs cannot cheapen as they cheapen SHA-2 (and, less,
// bcrypt); the "id" variant resists both side-channel and trade-off attacks.
// bcrypt would also do, but reads at most 72 bytes of a password.
//
// A hash is stored as a PHC string
//
//	$argon2id$v=19$m=65536,t=3,p=2$<salt>$<key>
//
// (base64 without padding), the format of the reference implementation and of
// libsodium, so the parameters travel with each hash: defaults can be raised
// later and old hashes still checked, then replaced at the next login
// (NeedsRehash).
//
// A stored hash is treated as untrusted input: Check refuses any parameter
// outside fixed bounds (see Params.Validate), so a damaged or hostile snapshot
// cannot make every node allocate gigabytes or spin for minutes per login.
//
// The cost is deliberate: 64 MiB and about a quarter of a second of CPU per
// check on this project's 2-vCPU nodes (BenchmarkHash_DefaultParams), so a
// node checks only a handful of logins a second. The caller must bound how
// many checks run at once (a semaphore around Check) and throttle failed
// logins (package throttle), or a login flood becomes a memory exhaustion.
package password

import (
	"crypto/rand"
	"crypto/subtle"
	"fmt"

	"golang.org/x/crypto/argon2"
)

// Params are argon2id's cost parameters and the sizes of salt and key. They
// are written into every hash, so changing them affects new hashes only.
type Params struct {
	// MemoryKiB is the memory used by one hash, in KiB (argon2's m).
	MemoryKiB uint32
	// Time is the number of passes over the memory (argon2's t).
	Time uint32
	// Parallelism is the number of lanes (argon2's p). It is part of the
	// result: the same password with another p gives another key.
	Parallelism uint8
	// SaltLen is the length in bytes of the random salt of new hashes.
	SaltLen uint32
	// KeyLen is the length in bytes of the derived key.
	KeyLen uint32
}

// Bounds on Params, enforced on new hashes and on stored ones. The upper
// bounds cap what one Check can cost (256 MiB, 10 passes) whatever a
// snapshot says, while leaving room to raise the default memory fourfold; the
// lower bounds refuse hashes too weak to be worth keeping.
const (
	MinMemoryKiB   = 8 * 1024
	MaxMemoryKiB   = 256 * 1024
	MinTime        = 1
	MaxTime        = 10
	MinParallelism = 1
	MaxParallelism = 16
	MinSaltLen     = 16 // RFC 9106 section 3.1: 128 bits suffices for all uses
	MaxSaltLen     = 64
	MinKeyLen      = 16
	MaxKeyLen      = 64
)

// DefaultParams returns the parameters of new hashes: 64 MiB, 3 passes, 2
// lanes, a 16-byte salt and a 32-byte key.
//
// This is RFC 9106's second recommended option (section 4: m=2^16 KiB, t=3,
// 128-bit salt, 256-bit tag, for when 2 GiB per hash is too much) with p=2
// instead of 4, because a node is sized for 2 vCPUs: lanes beyond the cores do
// not shorten a login, and the defence comes from memory and passes. It is
// well above OWASP's minimum for argon2id (19 MiB, t=2, p=1). It is a
// function, not a variable, so that no package can change the defaults of
// another by assigning to them.
func DefaultParams() Params {
	return Params{MemoryKiB: 64 * 1024, Time: 3, Parallelism: 2, SaltLen: 16, KeyLen: 32}
}

// Validate reports whether p lies within the bounds above.
func (p Params) Validate() error {
	switch {
	case p.MemoryKiB < MinMemoryKiB || p.MemoryKiB > MaxMemoryKiB:
		return fmt.Errorf("%w: memory m=%d KiB, want %d to %d", ErrInvalidParams, p.MemoryKiB, MinMemoryKiB, MaxMemoryKiB)
	case p.Time < MinTime || p.Time > MaxTime:
		return fmt.Errorf("%w: time t=%d, want %d to %d", ErrInvalidParams, p.Time, MinTime, MaxTime)
	case p.Parallelism < MinParallelism || p.Parallelism > MaxParallelism:
		return fmt.Errorf("%w: parallelism p=%d, want %d to %d", ErrInvalidParams, p.Parallelism, MinParallelism, MaxParallelism)
	case p.SaltLen < MinSaltLen || p.SaltLen > MaxSaltLen:
		return fmt.Errorf("%w: salt of %d bytes, want %d to %d", ErrInvalidParams, p.SaltLen, MinSaltLen, MaxSaltLen)
	case p.KeyLen < MinKeyLen || p.KeyLen > MaxKeyLen:
		return fmt.Errorf("%w: key of %d bytes, want %d to %d", ErrInvalidParams, p.KeyLen, MinKeyLen, MaxKeyLen)
	}
	return nil
}

// Hash returns the PHC string of password under DefaultParams, with a fresh
// random salt. It does not apply the password policy: call Validate first
// when a user chooses a password.
func Hash(password string) (string, error) {
	return HashWith(password, DefaultParams())
}

// HashWith is Hash with chosen parameters: for tests, which use small ones,
// and for a deployment that configures its own. It refuses parameters that
// Check would refuse, so that it never writes a hash that cannot be read.
func HashWith(password string, p Params) (string, error) {
	if len(password) > MaxHashInput {
		return "", fmt.Errorf("%w: at most %d bytes can be hashed", ErrTooLong, MaxHashInput)
	}
	if err := p.Validate(); err != nil {
		return "", err
	}
	salt := make([]byte, p.SaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("password: reading a random salt: %w", err)
	}
	key := argon2.IDKey([]byte(password), salt, p.Time, p.MemoryKiB, p.Parallelism, p.KeyLen)
	return encode(p, salt, key), nil
}

// Check reports whether password matches the stored hash encoded. A wrong
// password is (false, nil); an error means the stored hash itself is unusable
// (malformed, another algorithm, parameters out of bounds) and should be
// logged, as it is a fault of the store, not of the user.
//
// The key is recomputed with the parameters stored in the hash and compared
// in constant time, so the time taken does not reveal how much of it matched.
func Check(encoded, password string) (ok bool, err error) {
	p, salt, key, err := decode(encoded)
	if err != nil {
		return false, err
	}
	if len(password) > MaxHashInput {
		// Hash never accepted such a password, so it cannot match; refusing
		// before argon2 only saves work, and the length is the caller's own.
		return false, nil
	}
	got := argon2.IDKey([]byte(password), salt, p.Time, p.MemoryKiB, p.Parallelism, p.KeyLen)
	return subtle.ConstantTimeCompare(got, key) == 1, nil
}

// NeedsRehash reports whether encoded was made with parameters other than p
// (or cannot be read), so that the API, having just checked a correct
// password, can store a new hash of it made with the current defaults.
func NeedsRehash(encoded string, p Params) bool {
	got, _, _, err := decode(encoded)
	return err != nil || got != p
}

// dummyHash has DefaultParams and a random salt and key, so that checking
// any password against it costs a real check and fails (a random 32-byte key
// is matched with probability 2^-256). It is assembled, not hashed, so making
// it costs nothing.
var dummyHash = func() string {
	p := DefaultParams()
	salt, key := make([]byte, p.SaltLen), make([]byte, p.KeyLen)
	_, _ = rand.Read(salt) // crypto/rand.Read never fails since Go 1.24
	_, _ = rand.Read(key)
	return encode(p, salt, key)
}()

// DummyCheck does the work of a failing Check, for a login naming a user
// that does not exist: without it such logins would answer in microseconds
// and real ones in a tenth of a second or more, telling an attacker which
// user names exist. It costs a Check of a hash made with DefaultParams; users whose
// hashes predate a change of the defaults take another time until
// NeedsRehash has replaced them.
func DummyCheck(password string) {
	_, _ = Check(dummyHash, password)
}
