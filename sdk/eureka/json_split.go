package eureka

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// DecodeApplicationsJSONFunc decodes a registry document as
// DecodeApplicationsJSON does, but hands the applications to fn one at a
// time instead of returning them: in document order, from the calling
// goroutine, while other goroutines decode the applications that follow
// (at most a few dozen ahead of fn). It returns the document's
// versions__delta and apps__hashcode in an Applications whose list is
// empty.
//
// The applications fn receives, and the header returned, are exactly
// those DecodeApplicationsJSON gives, and the same documents fail with the
// same error. Only the plain shape eurekad and Java Eureka write, one
// "applications" object with at most one of each member and "application"
// an array of objects, is decoded in parallel; any other document (a
// repeated member, a single object instead of an array, null elements,
// members of the applications object at the top level, …) is decoded
// whole first, as by DecodeApplicationsJSON, and then handed to fn.
//
// A malformed document may fail after fn has received the applications
// before the fault. When fn returns an error, the decode stops and
// returns that error.
func DecodeApplicationsJSONFunc(data []byte, fn func(*Application) error) (*Applications, error) {
	return decodeApplicationsFunc(data, runtime.GOMAXPROCS(0), fn)
}

// DecodeApplicationsXMLFunc is DecodeApplicationsJSONFunc for an XML
// registry document: decoded whole (DecodeApplicationsXML), then handed to
// fn one application at a time.
func DecodeApplicationsXMLFunc(data []byte, fn func(*Application) error) (*Applications, error) {
	apps, err := DecodeApplicationsXML(data)
	return handOut(apps, err, fn)
}

// handOut hands a registry decoded whole to fn, in order, and returns the
// rest of it with an empty list.
func handOut(apps *Applications, err error, fn func(*Application) error) (*Applications, error) {
	if err != nil {
		return nil, err
	}
	for _, app := range apps.Applications {
		if err := fn(app); err != nil {
			return nil, err
		}
	}
	apps.Applications = apps.Applications[:0:0]
	return apps, nil
}

// decodeApplicationsFunc is DecodeApplicationsJSONFunc with that many
// decoding goroutines (none for 1).
func decodeApplicationsFunc(data []byte, workers int, fn func(*Application) error) (*Applications, error) {
	var d appsDecoder
	head, elems, ok := d.split(data)
	if !ok {
		apps, err := DecodeApplicationsJSON(data)
		return handOut(apps, err, fn)
	}
	if err := decodeElements(data, elems, workers, fn); err != nil {
		return nil, err
	}
	return head, nil
}

// appElem locates an element of the "application" array: the offsets of
// its '{' and past its '}', and the lexer's depth at the '{'.
type appElem struct {
	pos, end, depth int
}

// split scans a registry document of the plain shape (see
// DecodeApplicationsJSONFunc), checking it as the sequential decoder
// would but for the elements of the "application" array, which it only
// locates, reading the header members. ok is false when the document is
// not of that shape or has a fault outside the elements.
func (d *appsDecoder) split(data []byte) (head *Applications, elems []appElem, ok bool) {
	if d.document(data) != nil || d.open() != nil {
		return nil, nil, false
	}
	var f appsFields
	wrapped := false
	for n := 0; ; n++ {
		k, more, err := d.member(n)
		if err != nil {
			return nil, nil, false
		}
		if !more {
			break
		}
		switch applicationsRootMembers.lookup(d.bytes(k)) {
		case -1:
			err = d.skip()
		case mApplicationsWrapper:
			if wrapped || d.data[d.pos] != '{' {
				return nil, nil, false
			}
			wrapped = true
			elems, ok = d.splitApps(&f)
			if !ok {
				return nil, nil, false
			}
		default:
			// Read into the top-level object, which the wrapper replaces:
			// not worth the cases.
			return nil, nil, false
		}
		if err != nil {
			return nil, nil, false
		}
	}
	if !wrapped || d.end() != nil {
		return nil, nil, false
	}
	head, err := d.header(&f, 0)
	if err != nil {
		return nil, nil, false
	}
	return head, elems, true
}

// splitApps reads the applications object at pos into f, except for its
// "application" array, whose elements it returns.
func (d *appsDecoder) splitApps(f *appsFields) (elems []appElem, ok bool) {
	if d.open() != nil {
		return nil, false
	}
	var seen [mApplication + 1]bool
	for n := 0; ; n++ {
		k, more, err := d.member(n)
		if err != nil {
			return nil, false
		}
		if !more {
			return elems, true
		}
		m := applicationsRootMembers.lookup(d.bytes(k))
		if m > mApplicationsWrapper {
			if seen[m] {
				return nil, false
			}
			seen[m] = true
		}
		switch m {
		case mVersionsDelta:
			err = d.int(&f.versionsDelta)
		case mVersionsDeltaOne:
			err = d.int(&f.versionsDeltaOne)
		case mAppsHashcode:
			err = d.text(&f.hashcode)
		case mAppsHashcodeOne:
			err = d.text(&f.hashcodeOne)
		case mApplication:
			elems, ok = d.splitArray()
			if !ok {
				return nil, false
			}
		default: // unknown, or "applications" again, which is not read
			err = d.skip()
		}
		if err != nil {
			return nil, false
		}
	}
}

// splitArray reads the array of application objects at pos and returns
// where its elements are. The elements are only skimmed (skimObject):
// decoding checks them.
func (d *appsDecoder) splitArray() (elems []appElem, ok bool) {
	if d.data[d.pos] != '[' || d.open() != nil {
		return nil, false
	}
	if d.emptyArray() {
		// An empty array makes the list empty, as no member would.
		return nil, true
	}
	for {
		d.skipSpace()
		if d.pos >= len(d.data) || d.data[d.pos] != '{' {
			return nil, false
		}
		end, ok := skimObject(d.data, d.pos)
		if !ok {
			return nil, false
		}
		elems = append(elems, appElem{pos: d.pos, end: end, depth: d.depth})
		d.pos = end
		if more, err := d.afterElement(); err != nil {
			return nil, false
		} else if !more {
			return elems, true
		}
	}
}

// decodeOne decodes the application object at e, as the sequential
// decoder decodes an element of an array read once.
func (d *appsDecoder) decodeOne(e appElem) (*Application, error) {
	d.pos, d.depth = e.pos, e.depth
	var f appFields
	if err := d.app(&f); err != nil {
		return nil, err
	}
	if d.pos != e.end {
		// A valid object ends where it was skimmed to end.
		return nil, d.fail("after application object")
	}
	return d.application(&f)
}

// skimPlain marks the bytes skimObject passes over at once: all but the
// quote, the backslash and the brackets.
var skimPlain = func() (t [256]bool) {
	for c := range t {
		switch c {
		case '"', '\\', '{', '}', '[', ']':
		default:
			t[c] = true
		}
	}
	return t
}()

// skimObject returns the offset just past the object whose '{' is at
// pos, found by counting brackets outside strings, without checking the
// JSON: ok is false only when the data ends first. In valid JSON that is
// where the object ends, and the lexer finds any fault in it when it
// reads it; this is several times faster than skip.
func skimObject(data []byte, pos int) (end int, ok bool) {
	depth, str := 0, false
	for i := pos; i < len(data); i++ {
		for i < len(data) && skimPlain[data[i]] {
			i++
		}
		if i >= len(data) {
			break
		}
		switch c := data[i]; {
		case c == '\\':
			i++ // only in a string: outside one, the lexer fails anyway
		case c == '"':
			str = !str
		case str:
		case c == '{' || c == '[':
			depth++
		default:
			if depth--; depth == 0 {
				return i + 1, true
			}
		}
	}
	return 0, false
}

// splitWindow is how many applications may be decoded ahead of fn: enough
// to keep the decoding goroutines busy while fn works on a large one.
const splitWindow = 64

// decodedApp is the outcome of decoding one element.
type decodedApp struct {
	app *Application
	err error
}

// decodeElements decodes the elements of data at elems with that many
// goroutines and hands them to fn in order. On the first failure it stops
// them; a malformed element is then reported with the sequential
// decoder's error, so that the error is that of DecodeApplicationsJSON
// (which, with several faults, may name another one).
func decodeElements(data []byte, elems []appElem, workers int, fn func(*Application) error) error {
	workers = min(workers, len(elems))
	if workers <= 1 {
		d := elementDecoder(data)
		for _, e := range elems {
			app, err := d.decodeOne(e)
			if err != nil {
				return sequentialError(data, err)
			}
			if err := fn(app); err != nil {
				return err
			}
		}
		return nil
	}
	window := min(splitWindow, len(elems))
	// Element i goes through ring[i%window]: a worker takes an element
	// only with a token, which fn's goroutine returns when it has taken
	// the element's result, so no two elements in flight share a slot.
	ring := make([]chan decodedApp, window)
	for i := range ring {
		ring[i] = make(chan decodedApp, 1)
	}
	tokens := make(chan struct{}, window)
	quit := make(chan struct{})
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			d := elementDecoder(data)
			for {
				select {
				case tokens <- struct{}{}:
				case <-quit:
					return
				}
				select {
				case <-quit: // not chosen above when both were ready
					return
				default:
				}
				i := int(next.Add(1) - 1)
				if i >= len(elems) {
					return
				}
				app, err := d.decodeOne(elems[i])
				ring[i%window] <- decodedApp{app, err}
			}
		})
	}
	defer wg.Wait()
	defer close(quit)
	for i := range elems {
		r := <-ring[i%window]
		<-tokens
		if r.err != nil {
			return sequentialError(data, r.err)
		}
		if err := fn(r.app); err != nil {
			return err
		}
	}
	return nil
}

// elementDecoder returns a decoder for elements of the registry document
// data, its arena shared by instances as in the sequential decoder.
func elementDecoder(data []byte) *appsDecoder {
	d := new(appsDecoder)
	if d.document(data) != nil {
		panic("eureka: elementDecoder: data was not split")
	}
	return d
}

// sequentialError returns the error DecodeApplicationsJSON gives for a
// document one of whose elements failed with err (err itself, in the
// error's form, should that decoder succeed, which it must not).
func sequentialError(data []byte, err error) error {
	if _, serr := DecodeApplicationsJSON(data); serr != nil {
		return serr
	}
	return malformed("applications JSON", inMember("application", err))
}
