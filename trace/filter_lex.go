package trace

import (
	"errors"
	"fmt"
	"strings"
)

// ErrFilter wraps every filter and simulation-spec syntax error.
var ErrFilter = errors.New("trace: bad filter")

// MaxFilterLen bounds the filter text, so hostile input costs bounded work.
const MaxFilterLen = 4096

// maxDepth bounds nesting of parentheses and "not", so the recursive
// parser and evaluator cannot exhaust the stack.
const maxDepth = 64

// tokenize splits a filter into words and the punctuation ( ) ! && ||.
func tokenize(s string) ([]string, error) {
	if len(s) > MaxFilterLen {
		return nil, fmt.Errorf("%w: longer than %d bytes", ErrFilter, MaxFilterLen)
	}
	var toks []string
	i := 0
	for i < len(s) {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '(' || c == ')':
			toks = append(toks, s[i:i+1])
			i++
		case c == '!':
			toks = append(toks, "not")
			i++
		case strings.HasPrefix(s[i:], "&&"):
			toks = append(toks, "and")
			i += 2
		case strings.HasPrefix(s[i:], "||"):
			toks = append(toks, "or")
			i += 2
		default:
			j := i
			for j < len(s) && !strings.ContainsRune(" \t\n\r()!&|", rune(s[j])) {
				j++
			}
			if j == i { // a lone & or |
				return nil, fmt.Errorf("%w: unexpected %q", ErrFilter, s[i:i+1])
			}
			toks = append(toks, strings.ToLower(s[i:j]))
			i = j
		}
	}
	return toks, nil
}
