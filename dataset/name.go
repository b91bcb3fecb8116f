package dataset

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// MaxNameLen is the longest dataset name, in bytes.
const MaxNameLen = 128

var (
	// ErrInvalidName is wrapped by ValidateName errors.
	ErrInvalidName = errors.New("invalid dataset name")
	// ErrInvalidRef is wrapped by ParseRef errors about the version part.
	ErrInvalidRef = errors.New("invalid dataset reference")
)

// ValidateName checks a dataset name: 1 to 128 bytes of lowercase ASCII
// letters, digits, '.', '_', '-', and '/' as a segment separator; it
// starts with a letter or digit; it has no leading or trailing '/', no
// empty segment and no segment "." or "..". The error wraps
// ErrInvalidName and names the rule that failed.
func ValidateName(name string) error {
	fail := func(rule string) error {
		return fmt.Errorf("%w %q: %s", ErrInvalidName, name, rule)
	}
	if name == "" {
		return fail("must not be empty")
	}
	if len(name) > MaxNameLen {
		return fail(fmt.Sprintf("longer than %d bytes", MaxNameLen))
	}
	for i := 0; i < len(name); i++ {
		ch := name[i]
		switch {
		case ch >= 'a' && ch <= 'z', ch >= '0' && ch <= '9', ch == '.', ch == '_', ch == '-', ch == '/':
		default:
			return fail(fmt.Sprintf("byte %d (%q) is not one of a-z 0-9 . _ - /", i, ch))
		}
	}
	if name[0] == '/' || name[len(name)-1] == '/' {
		return fail("must not start or end with '/'")
	}
	if c := name[0]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
		return fail("must start with a letter or digit")
	}
	for _, seg := range strings.Split(name, "/") {
		switch seg {
		case "":
			return fail("must not contain an empty segment (\"//\")")
		case ".", "..":
			return fail(fmt.Sprintf("must not contain a %q segment", seg))
		}
	}
	return nil
}

// ParseRef parses "NAME[@VERSION]". VERSION is a positive decimal
// integer; without "@VERSION" the version is 0, meaning the latest.
// "NAME@", "NAME@0" and any VERSION that is not a positive decimal
// integer are errors.
func ParseRef(s string) (name string, version uint64, err error) {
	name, v, hasVersion := strings.Cut(s, "@")
	if err := ValidateName(name); err != nil {
		return "", 0, err
	}
	if !hasVersion {
		return name, 0, nil
	}
	if v == "" {
		return "", 0, fmt.Errorf("%w %q: empty version after '@'", ErrInvalidRef, s)
	}
	for i := 0; i < len(v); i++ {
		if v[i] < '0' || v[i] > '9' {
			return "", 0, fmt.Errorf("%w %q: version %q is not a decimal number", ErrInvalidRef, s, v)
		}
	}
	version, err = strconv.ParseUint(v, 10, 64)
	if err != nil {
		return "", 0, fmt.Errorf("%w %q: version %q out of range", ErrInvalidRef, s, v)
	}
	if version == 0 {
		return "", 0, fmt.Errorf("%w %q: version must be at least 1", ErrInvalidRef, s)
	}
	return name, version, nil
}
