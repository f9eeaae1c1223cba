package cache

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"math/bits"
	"sync"

	"github.com/klauspost/compress/flate"
)

// A registry payload is joined from pieces compressed one by one (one per
// application plus a head and a tail), so a change recompresses only the
// pieces it touched. Each piece is raw deflate ended by a sync flush, which
// leaves it on a byte boundary with no final block: pieces can follow one
// another in one deflate stream, and none refers back into another because
// each had its own compressor, or only into the bytes just before it that
// it was given as preset dictionary. joinGzip wraps them in one gzip member whose
// CRC-32 is combined from the pieces' CRCs. Every inflater (zlib and so
// Java's GZIPInputStream, Node and curl; Go's compress/gzip) reads
// sync-flushed streams: it is what zlib's Z_SYNC_FLUSH writes.

// part is one compressed piece with the checksums of its plain bytes, or
// with no bytes the checksums of several (then, sumTree).
type part struct {
	z  []byte // raw deflate, ending with a sync flush
	n  int64  // plain length
	zn int64  // compressed length: len(z), or the pieces' it sums
	// CRC-32 (IEEE: the gzip trailer's) and CRC-32C (Castagnoli) of the
	// plain bytes, and x^(8n) modulo each polynomial: what combining a
	// piece's checksum costs is then one multiplication. Together they
	// are the entity tag's content sum (sum).
	crc32, crcC     uint64
	shift32, shiftC uint64
}

// sum returns the content sum of p's plain bytes, from which the entity
// tag is made: their CRC-32C and CRC-32, 64 bits together. Both are
// computed in hardware (SSE4.2's CRC32 instruction and carry-less
// multiplication; ARM's CRC32 instructions): Go's table-driven CRC-64 took
// a tenth of a build. Like the CRC-64 it replaces, the sum depends on the
// bytes only, so every node gives equal payloads equal tags.
func (p *part) sum() uint64 { return p.crcC<<32 | p.crc32 }

// ContentSum returns the content sum of b that entity tags are made of:
// CRC-32C and CRC-32 (part.sum). Payloads built outside the cache (remote
// regions) tag their bytes with it too.
func ContentSum(b []byte) uint64 {
	return uint64(crc32.Checksum(b, castagnoliTable))<<32 | uint64(crc32.Checksum(b, crc32Table))
}

// contentHash computes the content sum (part.sum) of what is written to it.
type contentHash struct{ crc32, crcC uint32 }

func (h *contentHash) Write(b []byte) (int, error) {
	h.crc32 = crc32.Update(h.crc32, crc32Table, b)
	h.crcC = crc32.Update(h.crcC, castagnoliTable, b)
	return len(b), nil
}

// Sum64 returns the content sum of the bytes written so far.
func (h *contentHash) Sum64() uint64 { return uint64(h.crcC)<<32 | uint64(h.crc32) }

// noPart stands for no bytes: then leaves what it is combined with as is.
var noPart = part{shift32: crc32Math.one, shiftC: crcCMath.one}

var (
	crc32Table      = crc32.MakeTable(crc32.IEEE)
	castagnoliTable = crc32.MakeTable(crc32.Castagnoli)
)

// flate writers hold hundreds of kilobytes each: reuse them.
var flatePool sync.Pool

// compressPart compresses plain into a part.
func compressPart(plain []byte) part { return compressPartDict(plain, nil) }

// compressPartDict compresses plain with dict as preset dictionary: the
// part may refer back into dict, so it must follow exactly those bytes in
// the joined stream.
func compressPartDict(plain, dict []byte) part {
	return compressPartLevel(plain, dict, flate.DefaultCompression, &flatePool)
}

// compressPartFast compresses plain at flate's fastest level (about twice
// as fast on JSON as the default, for a half more bytes), with no
// dictionary.
func compressPartFast(plain []byte) part {
	return compressPartLevel(plain, nil, flate.BestSpeed, &fastPool)
}

// fastPool holds compressPartFast's writers.
var fastPool sync.Pool

// outPool holds compressPartLevel's output buffers, up to maxPooledOut
// bytes: a part as large is rare (one large item), and is not kept for.
var outPool sync.Pool

const maxPooledOut = 256 << 10

// compressPartLevel compresses plain at level with dict as preset
// dictionary, with a writer from pool (one level per pool).
func compressPartLevel(plain, dict []byte, level int, pool *sync.Pool) part {
	// Into a pooled buffer, kept as an exact copy: a buffer per part,
	// grown as the compressor wrote and then cloned, allocated and
	// cleared three times the bytes kept (a sixth of a first build's
	// compressing at 1,000,000 instances).
	b, _ := outPool.Get().(*bytes.Buffer)
	if b == nil {
		b = new(bytes.Buffer)
	}
	b.Reset()
	w, _ := pool.Get().(*flate.Writer)
	if w == nil {
		w, _ = flate.NewWriterDict(b, level, dict)
	} else {
		w.ResetDict(b, dict)
	}
	w.Write(plain)
	w.Flush()
	w.Reset(nil) // a pooled writer must not keep b
	pool.Put(w)
	z := bytes.Clone(b.Bytes())
	if b.Cap() <= maxPooledOut {
		outPool.Put(b)
	}
	n := int64(len(plain))
	return part{
		z:       z,
		n:       n,
		zn:      int64(len(z)),
		crc32:   uint64(crc32.Checksum(plain, crc32Table)),
		crcC:    uint64(crc32.Checksum(plain, castagnoliTable)),
		shift32: crc32Math.shift(n),
		shiftC:  crcCMath.shift(n),
	}
}

// gzipHeader is a gzip member header: deflate, no name, no time, unknown OS.
var gzipHeader = []byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff}

// finalBlock is an empty stored block with BFINAL set: it ends the deflate
// stream after the last sync-flushed piece.
var finalBlock = []byte{1, 0, 0, 0xff, 0xff}

// joiner assembles parts into one gzip member, as the list of the parts'
// own bytes (Representation.Parts: they are shared with the payloads built
// after, and never joined to be served), with its length and the content
// sum of the plain bytes they hold.
type joiner struct {
	pieces      [][]byte
	n           int // the member's length
	crc32, crcC uint64
	plain       int64
}

// newJoiner starts a member of about parts parts.
func newJoiner(parts int) *joiner {
	return &joiner{pieces: append(make([][]byte, 0, parts+2), gzipHeader), n: len(gzipHeader)}
}

// add appends p's bytes and takes in its checksums (p may stand for
// several parts' checksums with one part's bytes, or none).
func (j *joiner) add(p *part) {
	j.pieces = append(j.pieces, p.z)
	j.n += len(p.z)
	j.crc32 = crc32Math.mul(p.shift32, j.crc32) ^ p.crc32
	j.crcC = crcCMath.mul(p.shiftC, j.crcC) ^ p.crcC
	j.plain += p.n
}

// then extends p's checksums and lengths, with no bytes, by those of q
// following it.
func (p *part) then(q *part) {
	p.crc32 = crc32Math.mul(q.shift32, p.crc32) ^ q.crc32
	p.crcC = crcCMath.mul(q.shiftC, p.crcC) ^ q.crcC
	p.shift32 = crc32Math.mul(p.shift32, q.shift32)
	p.shiftC = crcCMath.mul(p.shiftC, q.shiftC)
	p.n += q.n
	p.zn += q.zn
}

// finish ends the member and returns its pieces, its length and the
// plain bytes' content sum (part.sum).
func (j *joiner) finish() (pieces [][]byte, n int, sum uint64) {
	end := memberEnd(j.crc32, j.plain)
	j.pieces = append(j.pieces, end)
	j.n += len(end)
	return j.pieces, j.n, j.crcC<<32 | j.crc32
}

// memberEnd returns what ends a gzip member holding plain bytes of CRC-32
// crc: the final block and the trailer.
func memberEnd(crc uint64, plain int64) []byte {
	end := append(make([]byte, 0, len(finalBlock)+8), finalBlock...)
	end = binary.LittleEndian.AppendUint32(end, uint32(crc))
	return binary.LittleEndian.AppendUint32(end, uint32(plain))
}

// sumTree holds the combined sums of a sequence of parts (a payload's
// runs) as a segment tree: each node those of its two children one after
// the other. Combining every run's checksums on every build cost 2 ms at
// 1,000,000 instances (20,000 runs); with the tree a changed run costs
// log2(runs) combinations, and runs moved by an insertion or removal one
// each from there on.
type sumTree struct {
	// nodes[1] is the root, nodes[k]'s children are nodes[2k] and
	// nodes[2k+1], and the leaves, from nodes[leaves], are the parts.
	nodes  []part // with no bytes
	leaves int    // a power of two
	n      int    // parts held
}

// root returns the sums of every part in order.
func (t *sumTree) root() *part {
	if len(t.nodes) == 0 {
		return &noPart
	}
	return &t.nodes[1]
}

// update takes in n parts (at(i) returns the ith's sums), of which only
// those in [lo, hi) differ from the last update, besides those past n when
// there were more.
func (t *sumTree) update(n, lo, hi int, at func(i int) *part) {
	if n > t.leaves {
		t.leaves = 1
		for t.leaves < n {
			t.leaves *= 2
		}
		t.nodes = make([]part, 2*t.leaves)
		for i := range t.nodes {
			t.nodes[i] = noPart
		}
		t.n, lo, hi = 0, 0, n
	}
	for i := lo; i < hi; i++ {
		t.nodes[t.leaves+i] = *at(i)
		t.nodes[t.leaves+i].z = nil
	}
	t.fix(lo, hi)
	if n < t.n {
		for i := n; i < t.n; i++ {
			t.nodes[t.leaves+i] = noPart
		}
		t.fix(n, t.n)
	}
	t.n = n
}

// fix recombines the nodes above the leaves [lo, hi).
func (t *sumTree) fix(lo, hi int) {
	if lo >= hi {
		return
	}
	for l, h := (t.leaves+lo)/2, (t.leaves+hi-1)/2; l > 0; l, h = l/2, h/2 {
		for k := l; k <= h; k++ {
			s := t.nodes[2*k]
			s.then(&t.nodes[2*k+1])
			t.nodes[k] = s
		}
	}
}

// crcMath is arithmetic on polynomials modulo a reflected CRC polynomial,
// as zlib's crc32_combine does it: for CRCs whose initial value equals
// their final XOR (CRC-32/IEEE and CRC-32C both use all ones),
// crc(A‖B) = crc(A)·x^(8·len(B)) mod P  ⊕  crc(B).
type crcMath struct {
	poly uint64 // reflected polynomial
	one  uint64 // the polynomial 1: the top bit of the CRC's width
	// x2n[k] is x^(2^k) mod P.
	x2n [64]uint64
}

var (
	crc32Math = newCRCMath(crc32.IEEE, 32)
	crcCMath  = newCRCMath(crc32.Castagnoli, 32)
)

func newCRCMath(poly uint64, width uint) *crcMath {
	m := &crcMath{poly: poly, one: 1 << (width - 1)}
	p := m.one >> 1 // x
	for k := range m.x2n {
		m.x2n[k] = p
		p = m.mul(p, p)
	}
	return m
}

// mul returns a·b mod P. It runs for every part of every payload built,
// so it has no branch on the bits: with one, mispredicted on about every
// other bit, it took several times as long.
func (m *crcMath) mul(a, b uint64) uint64 {
	var p uint64
	// a's coefficient of x^0 is its top bit: move it to bit 63.
	for a <<= bits.LeadingZeros64(m.one); a != 0; a <<= 1 {
		p ^= b & -(a >> 63)
		b = b>>1 ^ m.poly&-(b&1)
	}
	return p
}

// shift returns x^(8n) mod P: the factor that moves a CRC past n bytes.
func (m *crcMath) shift(n int64) uint64 {
	p := m.one
	for k := 3; n != 0; k++ {
		if n&1 != 0 {
			p = m.mul(m.x2n[k], p)
		}
		n >>= 1
	}
	return p
}
