package api

import (
	"errors"
	"fmt"
	"strings"

	"github.com/novacron/novacron/fsm"
)

// findRecord looks a record of kind up by its ID, then by name (when byName
// is set), then by a unique start of its ID (byIDPrefix). nameOf names a
// match in the message of an ambiguous prefix.
func findRecord[T any](s *Server, kind, ref string, byID, byName func(string) (T, error), nameOf func(T) string) (T, error) {
	rec, err := byID(ref)
	if errors.Is(err, fsm.ErrNotFound) && byName != nil {
		rec, err = byName(ref)
	}
	if errors.Is(err, fsm.ErrNotFound) {
		var id string
		if id, err = s.byIDPrefix(kind, ref, func(id string) string {
			r, _ := byID(id)
			return nameOf(r)
		}); err == nil {
			rec, err = byID(id)
		}
	}
	return rec, err
}

// maxPrefixMatches is how many matches an ambiguous ID prefix lists.
const maxPrefixMatches = 5

// byIDPrefix resolves ref as the start of one ID of kind (as git and docker
// accept the start of a hash): the ID when exactly one record's ID starts
// with it, 404 when none does (or ref is too short to be a prefix), and 400
// naming the matches when several do. name gives a match's name for the
// message.
func (s *Server) byIDPrefix(kind, ref string, name func(id string) string) (string, error) {
	return s.byIDPrefixOf(kind, ref, func(prefix string, max int) []string {
		return s.state.IDsWithPrefix(kind, prefix, max)
	}, name)
}

// byIDPrefixOf is byIDPrefix over the IDs that find returns: up to max
// IDs that start with prefix, in order.
func (s *Server) byIDPrefixOf(kind, ref string, find func(prefix string, max int) []string, name func(id string) string) (string, error) {
	if len(ref) < fsm.MinIDPrefix {
		return "", errorf(fsm.ErrNotFound, "%s %q not found", kind, ref)
	}
	ids := find(ref, maxPrefixMatches+1)
	switch len(ids) {
	case 0:
		return "", errorf(fsm.ErrNotFound, "%s %q not found", kind, ref)
	case 1:
		return ids[0], nil
	}
	var list []string
	for _, id := range ids[:min(len(ids), maxPrefixMatches)] {
		if n := name(id); n != "" {
			list = append(list, fmt.Sprintf("%s (%s)", id, n))
		} else {
			list = append(list, id)
		}
	}
	more := ""
	if len(ids) > maxPrefixMatches {
		more = ", and more"
	}
	return "", invalidf("%s ID prefix %q is ambiguous: it matches %s%s; give more of the ID, or the name", kind, ref, strings.Join(list, ", "), more)
}
