package storage_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/eurekad/eurekad/sdk/storage"
)

func TestCut(t *testing.T) {
	for _, c := range []struct {
		in   string
		n    int
		want string
	}{
		{"short", 8, "short"},
		{"exactly8", 8, "exactly8"},
		{"longer than eight", 8, "longer t…"},
		{"ééééé", 3, "é…"}, // 2-byte runes: never cut inside one
		{"", 0, ""},
	} {
		if got := storage.Cut(c.in, c.n); got != c.want {
			t.Errorf("Cut(%q, %d) = %q; want %q", c.in, c.n, got, c.want)
		}
	}
}

func TestRefusedErrorIsBoundedAndMatches(t *testing.T) {
	k := storage.NewKey(strings.Repeat("a", 33000), strings.Repeat("i", 40000))
	err := fmt.Errorf("bolt: batch of 3 ops: %w", &storage.RefusedError{Key: k, Reason: "key too long"})
	if !errors.Is(err, storage.ErrRefused) {
		t.Fatal("a wrapped RefusedError does not match ErrRefused")
	}
	var re *storage.RefusedError
	if !errors.As(err, &re) || re.Key != k {
		t.Fatal("errors.As does not find the refused key")
	}
	if n := len(err.Error()); n > 2*storage.ExcerptBytes+100 {
		t.Errorf("message is %d bytes: the key is not cut to an excerpt", n)
	}
	if errors.Is(errors.New("record refused"), storage.ErrRefused) {
		t.Error("an unrelated error matches ErrRefused")
	}
}
