// Package labelselector parses and matches Kubernetes label selectors, the
// syntax of Azure Fleet Manager's memberSelector.byLabel:
//
//	env=prod, tier in (web,api), !canary
//
// A selector is requirements joined by commas, all of which must hold:
//
//	key=value, key==value   the label is present and equals value
//	key!=value              the label is absent or differs from value
//	key in (v1,v2)          the label is present and is one of the values
//	key notin (v1,v2)       the label is absent or is none of the values
//	key                     the label is present
//	!key                    the label is absent
//
// A key is a name, optionally after a prefix and "/": the prefix a
// lowercase DNS subdomain of at most 253 characters, the name 1 to 63
// letters, digits, '-', '_' or '.', starting and ending with a letter or
// digit. A value is empty or like a name; "env=" and "env in ()" test for
// the empty value. Spaces, tabs, CR and LF may stand between tokens. An
// empty or all-blank selector has no requirements and matches every label
// set, as in Kubernetes.
//
// Parse accepts exactly what k8s.io/apimachinery/pkg/labels.Parse accepts,
// except for two things Fleet does not take: the operators > and < (Azure
// lists only the ones above), and NUL bytes (Kubernetes' lexer takes byte 0
// for the end of the input, so it reads "a \x00 (((" as "a"). The nested
// module k8sdiff tests this against Kubernetes itself.
package labelselector

import (
	"slices"
	"strings"
)

// op is a requirement's operator. = and == mean the same but are kept apart
// so that String spells the selector as Kubernetes does.
type op uint8

const (
	opExists op = iota
	opNotExists
	opEquals
	opDoubleEquals
	opNotEquals
	opIn
	opNotIn
)

// requirement is one comma-separated term of a selector.
type requirement struct {
	key string
	op  op
	// values is sorted and without duplicates, as Kubernetes keeps it: one
	// value for =, == and !=, at least one for in and notin, none otherwise.
	values []string
}

// has reports whether v is one of r's values. The list is almost always one
// or two short, so a scan beats a map or a binary search.
func (r *requirement) has(v string) bool {
	for _, x := range r.values {
		if x == v {
			return true
		}
	}
	return false
}

func (r *requirement) matches(labels map[string]string) bool {
	v, ok := labels[r.key]
	switch r.op {
	case opExists:
		return ok
	case opNotExists:
		return !ok
	case opEquals, opDoubleEquals, opIn:
		return ok && r.has(v)
	default: // opNotEquals, opNotIn
		return !ok || !r.has(v)
	}
}

func (r *requirement) appendTo(b []byte) []byte {
	if r.op == opNotExists {
		b = append(b, '!')
	}
	b = append(b, r.key...)
	switch r.op {
	case opEquals:
		b = append(b, '=')
	case opDoubleEquals:
		b = append(b, "=="...)
	case opNotEquals:
		b = append(b, "!="...)
	case opIn:
		b = append(b, " in ("...)
	case opNotIn:
		b = append(b, " notin ("...)
	default:
		return b
	}
	for i, v := range r.values {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, v...)
	}
	if r.op == opIn || r.op == opNotIn {
		b = append(b, ')')
	}
	return b
}

// Selector is a parsed label selector: requirements that must all hold.
// The zero Selector has none and matches every label set. A Selector is
// never modified after Parse, so it may be shared between goroutines.
type Selector struct {
	reqs []requirement
}

// Matches reports whether labels satisfies every requirement. A nil map is
// a member without labels.
func (s Selector) Matches(labels map[string]string) bool {
	for i := range s.reqs {
		if !s.reqs[i].matches(labels) {
			return false
		}
	}
	return true
}

// Empty reports whether s has no requirements and so matches everything.
func (s Selector) Empty() bool {
	return len(s.reqs) == 0
}

// String is the canonical form, which Parse reads back to an equal
// Selector: requirements sorted by key and joined by ",", in-values sorted
// and deduplicated, operators spelled as written ("=" and "==" both kept).
// It is what Kubernetes' Selector.String returns, except that requirements
// sharing a key are ordered by their text here, where Kubernetes keeps them
// in input order; so equal selectors always print the same.
func (s Selector) String() string {
	var b []byte
	for i := range s.reqs {
		if i > 0 {
			b = append(b, ',')
		}
		b = s.reqs[i].appendTo(b)
	}
	return string(b)
}

// sortRequirements orders by key as Kubernetes does, then by text so that
// the order of requirements sharing a key is canonical too.
func sortRequirements(reqs []requirement) {
	slices.SortFunc(reqs, func(a, b requirement) int {
		if c := strings.Compare(a.key, b.key); c != 0 {
			return c
		}
		return strings.Compare(string(a.appendTo(nil)), string(b.appendTo(nil)))
	})
}
