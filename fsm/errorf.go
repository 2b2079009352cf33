package fsm

// Errorf wraps a sentinel with a message that names the entity at fault, for
// errors raised outside the FSM about its entities (the leader's dry runs):
// it matches the sentinel with errors.Is, reads as the message alone, and
// crosses the wire as the sentinel's code.
func Errorf(kind error, format string, args ...any) error { return errorf(kind, format, args...) }
