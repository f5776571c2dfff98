// Package bandwidth reads and writes network bandwidths in bits per second,
// the way operators write them: "2G", "1.5G", "10G", "500M".
package bandwidth

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// BitsPerSecond is a bandwidth. Its text form has an optional decimal
// suffix K, M, G or T (powers of 1000, as network speeds are counted).
type BitsPerSecond float64

var units = []struct {
	suffix string
	factor float64
}{{"T", 1e12}, {"G", 1e9}, {"M", 1e6}, {"K", 1e3}}

// Parse reads a bandwidth: a positive number with an optional unit.
func Parse(s string) (BitsPerSecond, error) {
	text := strings.TrimSpace(s)
	factor := 1.0
	for _, u := range units {
		if rest, ok := strings.CutSuffix(strings.ToUpper(text), u.suffix); ok {
			text, factor = rest, u.factor
			break
		}
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(text), 64)
	if err != nil || v <= 0 || math.IsInf(v, 0) || math.IsNaN(v) {
		return 0, fmt.Errorf("%q is not a bandwidth: want a positive number of bits per second with an optional K, M, G or T, such as 2G or 1.5G", s)
	}
	return BitsPerSecond(v * factor), nil
}

// UnmarshalText makes it readable from the environment.
func (b *BitsPerSecond) UnmarshalText(text []byte) error {
	v, err := Parse(string(text))
	if err != nil {
		return err
	}
	*b = v
	return nil
}

// String writes the bandwidth with the largest unit that keeps it readable:
// 2e9 is "2G", 1.5e9 "1.5G", 600e6 "600M".
func (b BitsPerSecond) String() string {
	for _, u := range units {
		if float64(b) >= u.factor {
			return strconv.FormatFloat(float64(b)/u.factor, 'f', -1, 64) + u.suffix
		}
	}
	return strconv.FormatFloat(float64(b), 'f', -1, 64)
}
