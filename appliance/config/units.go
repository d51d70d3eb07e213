package config

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Duration is a time.Duration written as "30s", "2m", "1h30m" in moat.toml.
type Duration time.Duration

// MaxDuration is the longest duration moat.toml accepts: far beyond any
// timeout, and small enough that moat's arithmetic on it cannot overflow.
const MaxDuration = Duration(10 * 365 * 24 * time.Hour)

// durationRe is time.ParseDuration's grammar, to tell a number too large
// for it from text that is not a duration at all.
var durationRe = regexp.MustCompile(`^[-+]?(([0-9]+(\.[0-9]*)?|\.[0-9]+)(ns|us|µs|μs|ms|s|m|h))+$`)

func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	tooLarge := err == nil && (v > MaxDuration.D() || v < -MaxDuration.D())
	switch {
	case tooLarge || (err != nil && durationRe.Match(b)):
		return fmt.Errorf("%q is too large: a duration must be at most %.0fh (10 years)", b, MaxDuration.D().Hours())
	case err != nil:
		return fmt.Errorf("%q is not a duration: write it like 30s, 2m or 1h30m", b)
	}
	*d = Duration(v)
	return nil
}

func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// D is the value as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

func (d Duration) String() string { return time.Duration(d).String() }

// Bytes is a size written as "512MB", "1GB", "2GiB" in moat.toml. As in the
// JVM and Trino, KB, MB and GB are powers of 1024.
type Bytes int64

var byteUnits = []struct {
	suffix string
	mult   int64
}{
	{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
	{"KB", 1 << 10}, {"MB", 1 << 20}, {"GB", 1 << 30}, {"TB", 1 << 40},
	{"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30}, {"T", 1 << 40},
	{"B", 1},
}

// MaxBytes is the largest size moat.toml accepts (1024TB): beyond any
// heap or disk, and small enough that sums and percentages of it stay exact.
const MaxBytes = Bytes(1 << 50)

// sizeNumber is the number in front of the unit: digits with an optional
// fraction (no sign, exponent, Inf or NaN).
var sizeNumber = regexp.MustCompile(`^[0-9]+(\.[0-9]+)?$`)

func (b *Bytes) UnmarshalText(text []byte) error {
	s := strings.TrimSpace(string(text))
	for _, u := range byteUnits {
		num, ok := strings.CutSuffix(s, u.suffix)
		if !ok {
			continue
		}
		num = strings.TrimSpace(num)
		if !sizeNumber.MatchString(num) {
			break
		}
		f, err := strconv.ParseFloat(num, 64)
		if err != nil || f*float64(u.mult) > float64(MaxBytes) {
			return fmt.Errorf("%q is too large: a size must be at most %s", text, MaxBytes)
		}
		*b = Bytes(f * float64(u.mult))
		return nil
	}
	return fmt.Errorf("%q is not a size: write it like 512MB or 2GB", text)
}

func (b Bytes) MarshalText() ([]byte, error) { return []byte(b.String()), nil }

// String prints b in the largest unit that keeps it whole (or one decimal).
func (b Bytes) String() string {
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"TB", 1 << 40}, {"GB", 1 << 30}, {"MB", 1 << 20}, {"KB", 1 << 10}} {
		if int64(b) >= u.mult {
			v := float64(b) / float64(u.mult)
			if v == float64(int64(v)) {
				return fmt.Sprintf("%d%s", int64(v), u.suffix)
			}
			return fmt.Sprintf("%.1f%s", v, u.suffix)
		}
	}
	return fmt.Sprintf("%dB", int64(b))
}
