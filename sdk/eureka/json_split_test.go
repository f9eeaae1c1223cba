package eureka

import (
	"errors"
	"reflect"
	"testing"
)

// checkFuncSameAsWhole decodes data with DecodeApplicationsJSON and with
// decodeApplicationsFunc on 1, 2 and 4 goroutines: all must fail with the
// same error, or give the same header and applications in the same order.
// It reports whether the document took the parallel path.
func checkFuncSameAsWhole(t *testing.T, data []byte) (split bool) {
	t.Helper()
	want, werr := DecodeApplicationsJSON(data)
	for _, workers := range []int{1, 2, 4} {
		got := []*Application{}
		head, err := decodeApplicationsFunc(data, workers, func(app *Application) error {
			got = append(got, app)
			return nil
		})
		switch {
		case werr != nil || err != nil:
			if werr == nil || err == nil || err.Error() != werr.Error() {
				t.Fatalf("%d goroutines, %q: error %v, DecodeApplicationsJSON's %v", workers, data, err, werr)
			}
			continue
		case len(head.Applications) != 0:
			t.Fatalf("%d goroutines, %q: the header holds applications", workers, data)
		}
		head.Applications = got
		if !reflect.DeepEqual(head, want) {
			t.Fatalf("%d goroutines, %q: decoded differently\n got %s\nwant %s", workers, data, dumpValue(head), dumpValue(want))
		}
	}
	_, _, split = new(appsDecoder).split(data)
	return split
}

// The documents of the registry decoder's tests, in the plain shape or
// not, decode alike both ways; so do the encoder's, which take the
// parallel path, and every prefix of the golden registry and the registry
// with each byte dropped.
func TestDecodeApplicationsJSONFuncMatchesWhole(t *testing.T) {
	for _, c := range appsReferenceCases {
		checkFuncSameAsWhole(t, []byte(c))
		// Inside the wrapper, application members reach the splitter.
		checkFuncSameAsWhole(t, []byte(`{"applications":`+c+`}`))
		checkFuncSameAsWhole(t, []byte(`{"applications":{"versions__delta":2,"application":[`+c+`,`+c+`]}}`))
	}
	for _, c := range referenceCases {
		checkFuncSameAsWhole(t, []byte(`{"applications":{"application":[{"instance":[`+c+`]},{"instance":`+c+`}]}}`))
	}
	for _, name := range appsTestdata {
		checkFuncSameAsWhole(t, readTestdata(t, name))
	}
	for _, n := range []int{0, 1, 20, 21, 5000} {
		doc := AppendApplicationsJSON(nil, benchRegistry(n))
		if !checkFuncSameAsWhole(t, doc) {
			t.Errorf("the encoder's registry of %d instances did not take the parallel path", n)
		}
	}
	doc := readTestdata(t, "golden/registry.json")
	if !checkFuncSameAsWhole(t, doc) {
		t.Error("the golden registry did not take the parallel path")
	}
	if testing.Short() {
		return
	}
	for i := range doc {
		checkFuncSameAsWhole(t, doc[:i])
		checkFuncSameAsWhole(t, append(doc[:i:i], doc[i+1:]...))
	}
}

// Only the plain shape is split; the others go the sequential way.
func TestDecodeApplicationsJSONFuncShape(t *testing.T) {
	for doc, want := range map[string]bool{
		`{"applications":{"versions__delta":"1","apps__hashcode":"UP_1_","application":[{"name":"A"},{"name":"B"}]}}`: true,
		` {"Applications":{"application":[ {} ],"x":[1]} , "other":{}} `:                                              true,
		`{"applications":{"application":[]}}`:                                                                         true,
		`{"applications":{}}`:                                                                                         true,
		`{"applications":{"application":[{"name":"A"}],"application":[{"instance":[]}]}}`:                             false,
		`{"applications":{"versions__delta":1,"versions__delta":2}}`:                                                  false,
		`{"applications":{},"applications":{}}`:                                                                       false,
		`{"applications":{"application":{"name":"A"}}}`:                                                               false,
		`{"applications":{"application":[{"name":"A"},null]}}`:                                                        false,
		`{"applications":{"application":null}}`:                                                                       false,
		`{"applications":null}`:                                                                                       false,
		`{"versions__delta":1,"applications":{}}`:                                                                     false,
		`{"application":[{"name":"A"}]}`:                                                                              false,
		`{"applications":{"application":[{"name":"A"}]}} x`:                                                           false,
		`{"applications":{"apps__hashcode":"\udc00"}}`:                                                                false,
	} {
		if _, _, got := new(appsDecoder).split([]byte(doc)); got != want {
			t.Errorf("%s: split %v, want %v", doc, got, want)
		}
		checkFuncSameAsWhole(t, []byte(doc))
	}
}

// fn's error stops the decode and is returned as it is.
func TestDecodeApplicationsJSONFuncStops(t *testing.T) {
	doc := AppendApplicationsJSON(nil, benchRegistry(2000))
	stop := errors.New("stop")
	for _, workers := range []int{1, 2} {
		calls := 0
		_, err := decodeApplicationsFunc(doc, workers, func(*Application) error {
			calls++
			if calls == 3 {
				return stop
			}
			return nil
		})
		if err != stop || calls != 3 {
			t.Errorf("%d goroutines: %d calls, error %v; want 3 and the one fn returned", workers, calls, err)
		}
	}
}

// FuzzDecodeApplicationsJSONFunc: DecodeApplicationsJSONFunc gives what
// DecodeApplicationsJSON gives, on any document.
func FuzzDecodeApplicationsJSONFunc(f *testing.F) {
	appsFuzzSeeds(f)
	for _, c := range appsReferenceCases {
		f.Add([]byte(`{"applications":` + c + `}`))
	}
	f.Add(AppendApplicationsJSON(nil, benchRegistry(45)))
	f.Fuzz(func(t *testing.T, data []byte) {
		checkFuncSameAsWhole(t, data)
	})
}
