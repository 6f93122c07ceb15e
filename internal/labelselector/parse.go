package labelselector

import (
	"fmt"
	"slices"
	"strings"
)

// Error says why a selector does not parse and where.
type Error struct {
	Selector string // the input, whole
	Offset   int    // byte offset of Token in Selector; len(Selector) at its end
	Token    string // the offending token as written; "" at the end of the input
	Reason   string // what is wrong and, for syntax, what was expected
}

// Error quotes the selector, then names the token and its offset, then says
// what is wrong.
func (e *Error) Error() string {
	where := fmt.Sprintf("%q at offset %d", e.Token, e.Offset)
	if e.Token == "" {
		where = fmt.Sprintf("end of selector (offset %d)", e.Offset)
	}
	return fmt.Sprintf("label selector %q: %s: %s", e.Selector, where, e.Reason)
}

type kind uint8

const (
	tEnd   kind = iota
	tWord       // a key, a value, or the keyword in or notin
	tComma      // ,
	tOpen       // (
	tClose      // )
	tNot        // !
	tEq         // =
	tEqEq       // ==
	tNotEq      // !=
	tGt         // >
	tLt         // <
)

type token struct {
	kind kind
	text string
	off  int
}

// parser reads a selector one token ahead. Its lexing is Kubernetes': blanks
// are space, tab, CR and LF; "=!(),<>" are symbols, of which only "==" and
// "!=" pair up; a word is any other run of bytes, checked later as a key or
// value.
type parser struct {
	s   string
	pos int
	tok token
}

func isBlank(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

func isSymbol(c byte) bool {
	switch c {
	case '=', '!', '(', ')', ',', '>', '<':
		return true
	}
	return false
}

func (p *parser) next() {
	for p.pos < len(p.s) && isBlank(p.s[p.pos]) {
		p.pos++
	}
	start := p.pos
	if start == len(p.s) {
		p.tok = token{tEnd, "", start}
		return
	}
	k, n := tWord, 1
	switch c := p.s[start]; c {
	case ',':
		k = tComma
	case '(':
		k = tOpen
	case ')':
		k = tClose
	case '>':
		k = tGt
	case '<':
		k = tLt
	case '!', '=':
		k = tNot
		if c == '=' {
			k = tEq
		}
		if start+1 < len(p.s) && p.s[start+1] == '=' {
			k, n = tNotEq, 2
			if c == '=' {
				k = tEqEq
			}
		}
	default:
		for n = 1; start+n < len(p.s) && !isBlank(p.s[start+n]) && !isSymbol(p.s[start+n]); n++ {
		}
	}
	p.pos = start + n
	p.tok = token{k, p.s[start:p.pos], start}
}

func (p *parser) fail(t token, format string, args ...any) *Error {
	return &Error{Selector: p.s, Offset: t.off, Token: t.text, Reason: fmt.Sprintf(format, args...)}
}

// Parse reads a label selector. Errors are *Error.
func Parse(s string) (Selector, error) {
	p := &parser{s: s}
	if i := strings.IndexByte(s, 0); i >= 0 {
		return Selector{}, p.fail(token{tWord, s[i : i+1], i}, "NUL byte not allowed")
	}
	p.next()
	if p.tok.kind == tEnd {
		return Selector{}, nil
	}
	var reqs []requirement
	for {
		r, err := p.requirement()
		if err != nil {
			return Selector{}, err
		}
		reqs = append(reqs, r)
		switch p.tok.kind {
		case tEnd:
			sortRequirements(reqs)
			return Selector{reqs: reqs}, nil
		case tComma:
			p.next()
		default:
			if r.op == opNotExists {
				return Selector{}, p.fail(p.tok, "expected ',' or end of selector after \"!%s\" ('!key' takes no operator or value)", r.key)
			}
			return Selector{}, p.fail(p.tok, "expected ',' or end of selector")
		}
	}
}

// requirement reads one term; the caller checks what follows it.
func (p *parser) requirement() (requirement, error) {
	not := p.tok.kind == tNot
	if not {
		p.next()
	}
	if p.tok.kind != tWord {
		if not {
			return requirement{}, p.fail(p.tok, "expected a key after '!'")
		}
		return requirement{}, p.fail(p.tok, "expected a key or '!'")
	}
	key := p.tok
	if msg := checkKey(key.text); msg != "" {
		return requirement{}, p.fail(key, "%s", msg)
	}
	p.next()
	r := requirement{key: key.text, op: opExists}
	if not {
		r.op = opNotExists
		return r, nil
	}
	opTok := p.tok
	switch opTok.kind {
	case tEnd, tComma:
		return r, nil
	case tEq, tEqEq, tNotEq:
		switch opTok.kind {
		case tEq:
			r.op = opEquals
		case tEqEq:
			r.op = opDoubleEquals
		default:
			r.op = opNotEquals
		}
		p.next()
		v := ""
		switch p.tok.kind {
		case tWord:
			v = p.tok.text
			if msg := checkValue(v); msg != "" {
				return requirement{}, p.fail(p.tok, "%s", msg)
			}
			p.next()
		case tEnd, tComma: // "key=" is the empty value
		default:
			return requirement{}, p.fail(p.tok, "expected a value after %q", opTok.text)
		}
		r.values = []string{v}
		return r, nil
	case tWord:
		switch opTok.text {
		case "in":
			r.op = opIn
		case "notin":
			r.op = opNotIn
		default:
			return requirement{}, p.fail(opTok, "expected an operator (=, ==, !=, in, notin), ',' or end of selector after key %q", key.text)
		}
		p.next()
		vals, err := p.valueList(opTok.text)
		if err != nil {
			return requirement{}, err
		}
		r.values = vals
		return r, nil
	case tGt, tLt:
		return requirement{}, p.fail(opTok, "operator not supported: Fleet's memberSelector takes =, ==, !=, in, notin, key (exists) and !key")
	default:
		return requirement{}, p.fail(opTok, "expected an operator (=, ==, !=, in, notin), ',' or end of selector after key %q", key.text)
	}
}

// valueList reads "(v1,v2,...)". Each comma-separated slot holds one value
// or nothing, which is the empty value: "()" and "(,)" are both {""}.
func (p *parser) valueList(opText string) ([]string, error) {
	if p.tok.kind != tOpen {
		return nil, p.fail(p.tok, "expected '(' after %q", opText)
	}
	p.next()
	var vals []string
	for {
		v, filled := "", p.tok.kind == tWord
		if filled {
			v = p.tok.text
			if msg := checkValue(v); msg != "" {
				return nil, p.fail(p.tok, "%s", msg)
			}
			p.next()
		}
		vals = append(vals, v)
		switch p.tok.kind {
		case tComma:
			p.next()
		case tClose:
			p.next()
			slices.Sort(vals)
			return slices.Compact(vals), nil
		default:
			if filled {
				return nil, p.fail(p.tok, "expected ',' or ')' after value %q", v)
			}
			return nil, p.fail(p.tok, "expected a value, ',' or ')'")
		}
	}
}
