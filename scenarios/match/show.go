package match

import (
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/edkit-dev/edkit/harness/jsonvalue"
)

// showPointer prints a pointer for a message. Its tokens are member names
// from the payload, so it is escaped like any payload string when it holds
// a rune that is not printable, and cut when long.
func showPointer(tokens []string) string {
	return showText(jsonvalue.Pointer(tokens...))
}

// showText prints text that may come from a payload or a library message:
// as it is when every rune is printable, else with each other rune escaped;
// cut when long.
func showText(s string) string {
	s = jsonvalue.Prefix(s, 4*jsonvalue.MaxShown)
	if strings.IndexFunc(s, notPrintable) < 0 && utf8.ValidString(s) {
		return jsonvalue.Cut(s, 2*jsonvalue.MaxShown)
	}
	q := strconv.Quote(s)
	return jsonvalue.Cut(q[1:len(q)-1], 2*jsonvalue.MaxShown)
}

func notPrintable(r rune) bool {
	return !strconv.IsPrint(r)
}
