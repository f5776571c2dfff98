package bandwidth

import "testing"

func TestParse(t *testing.T) {
	for in, want := range map[string]BitsPerSecond{
		"2G": 2e9, "1.5G": 1.5e9, "10G": 10e9, "500M": 500e6, "2g": 2e9, " 3 G ": 3e9, "1000": 1000, "0.5T": 0.5e12, "100k": 100e3,
	} {
		got, err := Parse(in)
		if err != nil || got != want {
			t.Errorf("Parse(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "G", "fast", "-2G", "0", "2X", "2GB", "NaN", "Inf", "1e400"} {
		if got, err := Parse(bad); err == nil {
			t.Errorf("Parse(%q) = %v, want an error", bad, got)
		}
	}
}

func TestString(t *testing.T) {
	for in, want := range map[BitsPerSecond]string{2e9: "2G", 1.5e9: "1.5G", 600e6: "600M", 12e9: "12G", 999: "999", 2.5e12: "2.5T"} {
		if got := in.String(); got != want {
			t.Errorf("%v.String() = %q, want %q", float64(in), got, want)
		}
		if back, err := Parse(want); err != nil || back != in {
			t.Errorf("Parse(%q) = %v, %v: not the same bandwidth", want, back, err)
		}
	}
}
