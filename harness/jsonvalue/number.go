package jsonvalue

import "strings"

// Limits on a number that edkit hands to a JSON Schema validator or
// compares with big.Rat. The library checks numbers with big.Rat, which computes 10^N
// for an exponent N: "1e999999" takes it tens of milliseconds, so a few
// kilobytes of such numbers could stall a run for minutes. No producer or
// schema writes numbers near these limits; float64 ends at 1e308.
const (
	MaxExponent = 1000
	MaxDigits   = 10000
)

// TooLarge reports a JSON number, as written, with more than MaxDigits
// digits or an exponent beyond ±MaxExponent.
func TooLarge(number string) bool {
	mant, exp := number, ""
	if i := strings.IndexAny(number, "eE"); i >= 0 {
		mant, exp = number[:i], number[i+1:]
	}
	if len(mant) > MaxDigits+2 {
		return true
	}
	exp = strings.TrimLeft(strings.TrimLeft(exp, "+-"), "0")
	return len(exp) > 4 || (len(exp) == 4 && exp > "1000")
}
