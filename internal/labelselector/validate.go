package labelselector

import (
	"fmt"
	"strings"
)

// The rules below are Kubernetes' (k8s.io/apimachinery content.IsLabelKey
// and IsLabelValue), written without regular expressions.
const (
	maxName   = 63  // a key's name part, and a value
	maxPrefix = 253 // a key's prefix, a DNS subdomain
)

func isAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

// isName is ([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9], any length.
func isName(s string) bool {
	if s == "" || !isAlnum(s[0]) || !isAlnum(s[len(s)-1]) {
		return false
	}
	for i := 1; i < len(s)-1; i++ {
		if c := s[i]; !isAlnum(c) && c != '-' && c != '_' && c != '.' {
			return false
		}
	}
	return true
}

// isSubdomain is RFC 1123 as Kubernetes checks it: dot-separated labels of
// [a-z0-9-], each starting and ending with [a-z0-9]. No per-label length
// limit: Kubernetes' label-key prefix check has none.
func isSubdomain(s string) bool {
	for label := range strings.SplitSeq(s, ".") {
		if label == "" {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			lowerAlnum := 'a' <= c && c <= 'z' || '0' <= c && c <= '9'
			if !lowerAlnum && (c != '-' || i == 0 || i == len(label)-1) {
				return false
			}
		}
	}
	return true
}

const (
	nameRule = "letters, digits, '-', '_' or '.', starting and ending with a letter or digit"
	dnsRule  = "a lowercase DNS subdomain: a-z, 0-9, '-' and '.', each dot-separated part starting and ending with a-z or 0-9"
)

// checkKey says what is wrong with a label key, or "" if nothing is.
func checkKey(k string) string {
	prefix, name, hasPrefix := strings.Cut(k, "/")
	switch {
	case strings.Contains(name, "/"):
		return fmt.Sprintf("key %q has more than one '/' (a key is name or prefix/name)", k)
	case hasPrefix && prefix == "":
		return fmt.Sprintf("key %q has an empty prefix before '/'", k)
	case hasPrefix && len(prefix) > maxPrefix:
		return fmt.Sprintf("key %q has a %d-character prefix; at most %d", k, len(prefix), maxPrefix)
	case hasPrefix && !isSubdomain(prefix):
		return fmt.Sprintf("key %q has prefix %q, which must be %s", k, prefix, dnsRule)
	}
	if !hasPrefix {
		name = prefix
	}
	switch {
	case name == "":
		return fmt.Sprintf("key %q has an empty name after '/'", k)
	case len(name) > maxName:
		return fmt.Sprintf("key %q has a %d-character name; at most %d", k, len(name), maxName)
	case !isName(name):
		return fmt.Sprintf("key %q has name %q, which must be %s", k, name, nameRule)
	}
	return ""
}

// checkValue says what is wrong with a label value, or "" if nothing is.
// The empty value is valid.
func checkValue(v string) string {
	switch {
	case len(v) > maxName:
		return fmt.Sprintf("value %q is %d characters; at most %d", v, len(v), maxName)
	case v != "" && !isName(v):
		return fmt.Sprintf("value %q must be empty or %s", v, nameRule)
	}
	return ""
}
