package version

import (
	"cmp"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Semver is a parsed version string, for comparing the versions nodes publish.
//
// The strings it reads are what builds carry (the Makefile stamps git describe):
// a release ("0.1.0", "v0.2.3"), a pre-release ("0.1.0-dev", "0.2.0-rc.1"), git
// describe after a tag ("v0.1.0-5-gabc1234": five commits after v0.1.0, or
// "v0.2.0-rc.1-3-gabc1234"), and git describe with no tag to start from
// ("f179328") or the Makefile's fallback "dev", which name no version. A "-dirty"
// suffix and "+build" metadata are dropped.
type Semver struct {
	Major, Minor, Patch int
	// Pre is the pre-release ("dev", "rc.1"); empty for a release.
	Pre string
	// Commits counts the commits after the tag (git describe); 0 for a tag.
	Commits int
	// Dev marks a build with no version at all (a bare commit, or "dev"). It is
	// taken as newer than every version, so a dev cluster is never held back by a
	// version gate; production runs tagged builds.
	Dev bool
}

var (
	semverRe   = regexp.MustCompile(`^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$`)
	describeRe = regexp.MustCompile(`^(?:(.+)-)?([0-9]+)-g[0-9a-f]{4,40}$`)
	commitRe   = regexp.MustCompile(`^[0-9a-f]{7,40}$`)
)

// Parse reads a version string (see Semver for the forms). Anything else, the
// empty string included, is an error: a version nobody can read is not guessed at.
func Parse(s string) (Semver, error) {
	t := strings.TrimSuffix(strings.TrimSpace(s), "-dirty")
	if t == "dev" || commitRe.MatchString(t) {
		return Semver{Dev: true}, nil
	}
	m := semverRe.FindStringSubmatch(strings.TrimPrefix(t, "v"))
	if m == nil {
		return Semver{}, fmt.Errorf("version %q is neither a semantic version nor a git commit", s)
	}
	var v Semver
	for i, p := range []*int{&v.Major, &v.Minor, &v.Patch} {
		n, err := strconv.Atoi(m[i+1])
		if err != nil {
			return Semver{}, fmt.Errorf("version %q: %w", s, err)
		}
		*p = n
	}
	v.Pre = m[4]
	if d := describeRe.FindStringSubmatch(v.Pre); d != nil {
		n, err := strconv.Atoi(d[2])
		if err != nil {
			return Semver{}, fmt.Errorf("version %q: %w", s, err)
		}
		v.Pre, v.Commits = d[1], n
	}
	return v, nil
}

// MustParse is Parse for versions written in the code; it panics on an error.
func MustParse(s string) Semver {
	v, err := Parse(s)
	if err != nil {
		panic(err)
	}
	return v
}

// String writes v in a canonical form: "0.1.0", "0.1.0-dev", "dev", and commits
// after a tag as build metadata, "0.1.0+5". Messages for people should quote the
// string a node published instead.
func (v Semver) String() string {
	if v.Dev {
		return "dev"
	}
	s := fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Patch)
	if v.Pre != "" {
		s += "-" + v.Pre
	}
	if v.Commits > 0 {
		s += "+" + strconv.Itoa(v.Commits)
	}
	return s
}

// Compare orders two versions: -1 if a is older than b, 0 if the same, +1 if
// newer. A pre-release comes before its release (semver); commits after a tag come
// after it and before the next version; dev builds come after everything and
// equal one another.
func Compare(a, b Semver) int {
	if a.Dev || b.Dev {
		return cmp.Compare(boolInt(a.Dev), boolInt(b.Dev))
	}
	if c := compareCore(a, b); c != 0 {
		return c
	}
	if c := comparePre(a.Pre, b.Pre); c != 0 {
		return c
	}
	return cmp.Compare(a.Commits, b.Commits)
}

// AtLeast reports whether a node running v understands what need introduced: the
// rule of version gates. Only the release numbers count, so "0.2.0-dev" and
// "0.2.0-rc.1" meet "0.2.0" (as Nomad's ServersMeetMinimumVersion rules, so a
// release candidate can be tested as the release), and "0.1.0-5-gabc1234" meets
// "0.1.0" but not "0.1.1". A dev build meets everything.
func (v Semver) AtLeast(need Semver) bool {
	return v.Dev || (!need.Dev && compareCore(v, need) >= 0)
}

func compareCore(a, b Semver) int {
	if c := cmp.Compare(a.Major, b.Major); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Minor, b.Minor); c != 0 {
		return c
	}
	return cmp.Compare(a.Patch, b.Patch)
}

// comparePre orders pre-releases as semver does: none is highest; otherwise
// dot-separated identifiers left to right, numbers numerically and below words,
// and a shorter list first when it is a prefix of the longer.
func comparePre(a, b string) int {
	switch {
	case a == b:
		return 0
	case a == "":
		return 1
	case b == "":
		return -1
	}
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(as) && i < len(bs); i++ {
		an, aErr := strconv.Atoi(as[i])
		bn, bErr := strconv.Atoi(bs[i])
		var c int
		switch {
		case aErr == nil && bErr == nil:
			c = cmp.Compare(an, bn)
		case aErr == nil:
			c = -1
		case bErr == nil:
			c = 1
		default:
			c = strings.Compare(as[i], bs[i])
		}
		if c != 0 {
			return c
		}
	}
	return cmp.Compare(len(as), len(bs))
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
