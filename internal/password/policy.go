package password

import (
	"errors"
	"fmt"
)

// Limits on passwords, in bytes of UTF-8 (a character may take several).
const (
	// MinLength follows NIST SP 800-63B (section 3.1.1.2), which asks for at
	// least 8 characters from users who choose their own password and
	// advises against rules on character classes, which this package has
	// none of.
	MinLength = 8
	// MaxLength is far beyond any passphrase yet small enough that the
	// request carrying it stays small; NIST asks to allow at least 64.
	MaxLength = 256
	// MaxHashInput is what Hash accepts at all, whatever the policy: a
	// guard against hashing megabytes if a caller forgets Validate.
	MaxHashInput = 1024
)

// Errors of this package, to be matched with errors.Is (the API maps the
// first two to its "invalid" code); the returned errors add the detail.
var (
	// ErrTooShort: the password has fewer than MinLength bytes.
	ErrTooShort = errors.New("password too short")
	// ErrTooLong: the password has more than MaxLength bytes (Validate) or
	// MaxHashInput bytes (Hash).
	ErrTooLong = errors.New("password too long")
	// ErrInvalidParams: Params outside the bounds of Params.Validate.
	ErrInvalidParams = errors.New("invalid argon2id parameters")
	// ErrMalformedHash: a stored hash that Check cannot use. Wrapped
	// together with ErrInvalidParams when its parameters are out of bounds.
	ErrMalformedHash = errors.New("malformed password hash")
)

// Validate applies the password policy to a password a user chooses, before
// it is hashed. It is not applied to login attempts: a login with a password
// the policy refuses simply fails to match. Its messages name the limit and
// never the password or its length, as they may be logged.
func Validate(password string) error {
	switch {
	case len(password) < MinLength:
		return fmt.Errorf("%w: it must have at least %d bytes", ErrTooShort, MinLength)
	case len(password) > MaxLength:
		return fmt.Errorf("%w: it must have at most %d bytes", ErrTooLong, MaxLength)
	}
	return nil
}
