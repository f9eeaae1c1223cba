package cache

import (
	"bytes"
	"compress/gzip"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"os/exec"
	"slices"
	"testing"
)

func randomText(r *rand.Rand, n int) []byte {
	words := []string{"instance", "UP", "DOWN", `"app":`, "10.0.0.", "\n  <x>", "{", "}", ","}
	var b []byte
	for len(b) < n {
		if r.IntN(4) == 0 {
			b = append(b, byte(r.IntN(256)))
			continue
		}
		b = append(b, words[r.IntN(len(words))]...)
	}
	return b[:n]
}

func TestCRCCombine(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, sizes := range [][2]int{{0, 0}, {0, 5}, {5, 0}, {1, 1}, {100, 3}, {3, 70000}, {65536, 65537}} {
		a, b := randomText(r, sizes[0]), randomText(r, sizes[1])
		ab := append(bytes.Clone(a), b...)
		got32 := crc32Math.mul(crc32Math.shift(int64(len(b))), uint64(crc32.ChecksumIEEE(a))) ^ uint64(crc32.ChecksumIEEE(b))
		if want := uint64(crc32.ChecksumIEEE(ab)); got32 != want {
			t.Errorf("crc32 %v: combined %x, direct %x", sizes, got32, want)
		}
		gotC := crcCMath.mul(crcCMath.shift(int64(len(b))), uint64(crc32.Checksum(a, castagnoliTable))) ^ uint64(crc32.Checksum(b, castagnoliTable))
		if want := uint64(crc32.Checksum(ab, castagnoliTable)); gotC != want {
			t.Errorf("crc32c %v: combined %x, direct %x", sizes, gotC, want)
		}
	}
}

// joined compresses pieces one by one and joins them, returning the gzip
// member and the plain bytes it must hold.
func joined(t *testing.T, pieces [][]byte) (gz, plain []byte) {
	t.Helper()
	j := newJoiner(len(pieces))
	for _, p := range pieces {
		pp := compressPart(p)
		j.add(&pp)
		plain = append(plain, p...)
	}
	parts, n, sum := j.finish()
	if gz = bytes.Join(parts, nil); len(gz) != n {
		t.Fatalf("joined %d bytes, the joiner says %d", len(gz), n)
	}
	if want := ContentSum(plain); sum != want {
		t.Fatalf("joined content sum %x, direct %x", sum, want)
	}
	return gz, plain
}

func TestJoinedGzipReadByGo(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, n := range []int{0, 1, 2, 50} {
		var pieces [][]byte
		for range n {
			pieces = append(pieces, randomText(r, r.IntN(40000)))
		}
		gz, plain := joined(t, pieces)
		zr, err := gzip.NewReader(bytes.NewReader(gz))
		if err != nil {
			t.Fatal(err)
		}
		zr.Multistream(false)
		got, err := io.ReadAll(zr)
		if err != nil {
			t.Fatalf("%d pieces: %v", n, err)
		}
		if !bytes.Equal(got, plain) {
			t.Fatalf("%d pieces: inflated %d bytes, want %d", n, len(got), len(plain))
		}
	}
}

// gzip(1) is zlib's format checker of record: -t verifies the CRC and the
// length, and zcat must give the same bytes back.
func TestJoinedGzipReadByGzipTool(t *testing.T) {
	if _, err := exec.LookPath("gzip"); err != nil {
		t.Fatal("gzip(1) is needed to check the joined stream: ", err)
	}
	r := rand.New(rand.NewPCG(5, 6))
	var pieces [][]byte
	for range 30 {
		pieces = append(pieces, randomText(r, r.IntN(20000)))
	}
	gz, plain := joined(t, pieces)
	test := exec.Command("gzip", "-t")
	test.Stdin = bytes.NewReader(gz)
	if out, err := test.CombinedOutput(); err != nil {
		t.Fatalf("gzip -t: %v: %s", err, out)
	}
	cat := exec.Command("gzip", "-dc")
	cat.Stdin = bytes.NewReader(gz)
	out, err := cat.Output()
	if err != nil {
		t.Fatalf("gzip -dc: %v", err)
	}
	if !bytes.Equal(out, plain) {
		t.Fatalf("gzip -dc gave %d bytes, want %d", len(out), len(plain))
	}
}

// The tree's root is the parts' sums combined one by one, through updates
// that change parts in place, insert and remove them, grow the tree past
// its leaves and shrink it.
func TestSumTree(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	var parts []part
	var tree sumTree
	at := func(i int) *part { return &parts[i] }
	for step := range 400 {
		lo := r.IntN(len(parts) + 1)
		hi := min(len(parts), lo+r.IntN(4))
		fresh := make([]part, r.IntN(5))
		for i := range fresh {
			fresh[i] = compressPart(randomText(r, r.IntN(300)))
			fresh[i].z = nil
		}
		if step%50 == 49 {
			lo, hi, fresh = 0, len(parts), nil // everything leaves
		}
		parts = slices.Replace(parts, lo, hi, fresh...)
		if hi-lo == len(fresh) {
			tree.update(len(parts), lo, lo+len(fresh), at)
		} else {
			tree.update(len(parts), lo, len(parts), at)
		}
		want := noPart
		for i := range parts {
			want.then(&parts[i])
		}
		if got := *tree.root(); !sameSums(got, want) {
			t.Fatalf("step %d: %d parts, root %+v, combined one by one %+v", step, len(parts), got, want)
		}
	}
}

// sameSums reports whether a and b hold the same lengths and checksums.
func sameSums(a, b part) bool {
	return a.n == b.n && a.zn == b.zn && a.crc32 == b.crc32 && a.crcC == b.crcC && a.shift32 == b.shift32 && a.shiftC == b.shiftC
}

// The content sum is CRC-32C and CRC-32 of the bytes, whatever pieces
// they are written in: every node, whichever path built a payload, gives
// it the same tag. The check value is both CRCs' of "123456789".
func TestContentSum(t *testing.T) {
	if got, want := ContentSum([]byte("123456789")), uint64(0xe3069283)<<32|0xcbf43926; got != want {
		t.Fatalf("content sum of the check string %x, want %x", got, want)
	}
	r := rand.New(rand.NewPCG(3, 4))
	b := randomText(r, 100000)
	var h contentHash
	for rest := b; len(rest) > 0; {
		k := min(len(rest), r.IntN(5000))
		h.Write(rest[:k])
		rest = rest[k:]
	}
	if h.Sum64() != ContentSum(b) {
		t.Fatalf("written in pieces %x, at once %x", h.Sum64(), ContentSum(b))
	}
	if p := compressPart(b); p.sum() != ContentSum(b) {
		t.Fatalf("a part's sum %x, the bytes' %x", p.sum(), ContentSum(b))
	}
}
