package eureka

import (
	"math/rand/v2"
	"testing"
)

// skipPlainBytewise is skipPlain as a byte at a time, the reference.
func skipPlainBytewise(d []byte, i int) int {
	for i < len(d) && strPlain[d[i]] {
		i++
	}
	return i
}

// TestSkipPlainEveryByte puts every byte value at every offset of a word
// (and past it, in the tail), after plain text and before other specials,
// so that a wrong borrow or a missed byte class shows.
func TestSkipPlainEveryByte(t *testing.T) {
	for n := 1; n <= 19; n++ {
		for at := 0; at < n; at++ {
			for c := range 256 {
				for _, after := range []byte{'a', '"', 0x00, 0xff, '\\', 0x1f} {
					d := make([]byte, n)
					for j := range d {
						d[j] = 'a' + byte(j%26)
						if j > at {
							d[j] = after
						}
					}
					d[at] = byte(c)
					for from := 0; from <= at; from++ {
						if got, want := skipPlain(d, from), skipPlainBytewise(d, from); got != want {
							t.Fatalf("skipPlain(%q, %d) = %d, want %d", d, from, got, want)
						}
					}
				}
			}
		}
	}
}

func TestSkipPlainRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	alphabet := []byte("abcXYZ09:/.-_ \"\\\x00\x1f\x7f\x80\xc3\xa9\xff")
	for range 100_000 {
		d := make([]byte, rng.IntN(40))
		for j := range d {
			// Mostly plain, as real strings are.
			if rng.IntN(8) == 0 {
				d[j] = alphabet[rng.IntN(len(alphabet))]
			} else {
				d[j] = byte(0x20 + rng.IntN(0x5f))
			}
		}
		from := 0
		if len(d) > 0 {
			from = rng.IntN(len(d))
		}
		if got, want := skipPlain(d, from), skipPlainBytewise(d, from); got != want {
			t.Fatalf("skipPlain(%q, %d) = %d, want %d", d, from, got, want)
		}
	}
}
