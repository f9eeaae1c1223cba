package eureka

import "io"

// chunkSize is how much encoded output the Write* encoders buffer before
// handing it to their writer.
const chunkSize = 64 << 10

// chunker hands encoded output to a writer in chunks. A nil *chunker keeps
// everything in the buffer (the Append* encoders).
type chunker struct {
	w   io.Writer
	err error
}

// spill writes dst out once it holds a chunk and returns the emptied
// buffer; after a write error it only empties it.
func (c *chunker) spill(dst []byte) []byte {
	if c == nil || len(dst) < chunkSize {
		return dst
	}
	if c.err == nil {
		_, c.err = c.w.Write(dst)
	}
	return dst[:0]
}

// flush writes what is left and returns the first error.
func (c *chunker) flush(dst []byte) error {
	if c.err == nil && len(dst) > 0 {
		_, c.err = c.w.Write(dst)
	}
	return c.err
}
