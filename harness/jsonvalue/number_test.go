package jsonvalue

import (
	"strings"
	"testing"
)

func TestTooLarge(t *testing.T) {
	tests := []struct {
		number string
		want   bool
	}{
		{"12.5", false},
		{"1e1000", false},
		{"1E+1000", false},
		{"-1e-1000", false},
		{"1e0001000", false}, // leading zeros of the exponent do not count
		{"1e1001", true},
		{"1e-1001", true},
		{"1e99999999999999999999", true},
		{strings.Repeat("9", MaxDigits), false},
		{"-" + strings.Repeat("9", MaxDigits/2) + "." + strings.Repeat("9", MaxDigits/2), false}, // sign and point are not digits
		{strings.Repeat("9", MaxDigits+3), true},
		{strings.Repeat("9", MaxDigits+3) + "e1", true},
	}
	for _, tt := range tests {
		if got := TooLarge(tt.number); got != tt.want {
			t.Errorf("TooLarge(%.20s…) = %v, want %v", tt.number, got, tt.want)
		}
	}
}
