package eureka

import "slices"

// DecodeApplicationJSON decodes {"application":{…}} or a bare application
// object. "instance" may be an array or, as older servers wrote it, a
// single object.
func DecodeApplicationJSON(data []byte) (*Application, error) {
	var d appsDecoder
	app, err := d.decodeApplication(data)
	if err != nil {
		return nil, malformed("application JSON", err)
	}
	return app, nil
}

// DecodeApplicationsJSON decodes {"applications":{…}} or the bare object.
// "application" and "instance" may be arrays or single objects,
// versions__delta a string or a number, and the old shapes of pre-1.1
// servers (ports as "7101" strings) are accepted.
func DecodeApplicationsJSON(data []byte) (*Applications, error) {
	var d appsDecoder
	apps, err := d.decodeApplications(data)
	if err != nil {
		return nil, malformed("applications JSON", err)
	}
	return apps, nil
}

// appsDecoder decodes an application or registry document in a single
// pass, each instance with the instanceDecoder methods. Like that decoder
// it reproduces what encoding/json did with the reflection types it
// replaced (see referenceDecodeApplicationsJSON in the tests, which
// FuzzDecodeApplicationsJSONDifferential compares it with). Beyond what
// instanceDecoder documents, that is:
//
//   - "application" and "instance" take null (nothing changes), a single
//     object (read into a new element appended to the list) or an array,
//     read as encoding/json reads a slice of pointers: element i is read
//     into the object already at index i of the backing array, if any,
//     even one left beyond the length by an earlier shorter array (so
//     repeated members merge element by element), a null element makes
//     the slot nil, and an empty array empties the list and drops its
//     backing array. The lists here are grown as reflect grows a slice,
//     so that the same old elements are reused;
//   - the "applications" and "application" wrappers are pointers: null
//     makes them absent again, an object is read into the one already
//     there, if any.
//
// All members are gathered first and turned into the result at the end,
// when nil list elements are dropped.
type appsDecoder struct {
	instanceDecoder
	slab     []instanceFields // room for new instances
	slabSize int              // the size of the last slab
}

// appFields holds the members of an application object.
type appFields struct {
	name      jsonSpan
	instances []*instanceFields
}

// appsFields holds the members of an applications object.
type appsFields struct {
	versionsDelta    jsonInt
	versionsDeltaOne jsonInt // versions_delta, the escapeCharReplacement "_" spelling
	hashcode         jsonSpan
	hashcodeOne      jsonSpan // apps_hashcode
	apps             []*appFields
}

var (
	// applicationRootMembers are the members of an application document:
	// the wrapper, then those of an application.
	applicationRootMembers = newMemberTable("application", "name", "instance")
	// applicationsRootMembers are the members of a registry document: the
	// wrapper, then those of an applications object.
	applicationsRootMembers = newMemberTable(
		"applications", "versions__delta", "versions_delta", "apps__hashcode",
		"apps_hashcode", "application",
	)
)

// Members of applicationsRootMembers and applicationRootMembers.
const (
	mApplicationsWrapper = iota
	mVersionsDelta
	mVersionsDeltaOne
	mAppsHashcode
	mAppsHashcodeOne
	mApplication
)

const (
	mApplicationWrapper = iota
	mAppName
	mAppInstance
)

// appsArenaChunk is the most the arena grows by at once in a registry:
// strings of many instances share an allocation, but not too many, so that
// a few instances kept long do not hold on to the text of all the others.
const appsArenaChunk = 16 << 10

// document checks data and sets the lexer at the document object.
func (d *appsDecoder) document(data []byte) error {
	data, err := jsonObjectBody(data)
	if err != nil {
		return err
	}
	d.data = data
	// The text kept is at most about half the document.
	d.minReserve = min(len(data)/2, appsArenaChunk)
	d.skipSpace()
	return nil
}

// end checks that nothing but space follows the document object.
func (d *appsDecoder) end() error {
	d.skipSpace()
	if d.pos < len(d.data) {
		return d.fail("after top-level value")
	}
	return nil
}

func (d *appsDecoder) decodeApplication(data []byte) (*Application, error) {
	if err := d.document(data); err != nil {
		return nil, err
	}
	var outer appFields
	var inner *appFields
	if err := d.open(); err != nil {
		return nil, err
	}
	for n := 0; ; n++ {
		k, ok, err := d.member(n)
		if err != nil {
			return nil, err
		}
		if !ok {
			break
		}
		switch applicationRootMembers.lookup(d.bytes(k)) {
		case mApplicationWrapper:
			err = inMember("application", d.wrapper(&inner))
		case mAppName:
			err = inMember("name", d.text(&outer.name))
		case mAppInstance:
			err = inMember("instance", d.instances(&outer.instances))
		default:
			err = d.skip()
		}
		if err != nil {
			return nil, err
		}
	}
	if err := d.end(); err != nil {
		return nil, err
	}
	a := &outer
	if inner != nil {
		a = inner
	}
	return d.application(a)
}

func (d *appsDecoder) decodeApplications(data []byte) (*Applications, error) {
	if err := d.document(data); err != nil {
		return nil, err
	}
	var outer appsFields
	var inner *appsFields
	if err := d.appsObject(&outer, &inner); err != nil {
		return nil, err
	}
	if err := d.end(); err != nil {
		return nil, err
	}
	j := &outer
	if inner != nil {
		j = inner
	}
	apps, err := d.header(j, len(j.apps))
	if err != nil {
		return nil, err
	}
	for _, a := range j.apps {
		if a == nil {
			continue
		}
		app, err := d.application(a)
		if err != nil {
			return nil, err
		}
		apps.Applications = append(apps.Applications, app)
	}
	return apps, nil
}

// appsObject reads the applications object at pos into f; inner, for the
// document object only, receives its "applications" member.
func (d *appsDecoder) appsObject(f *appsFields, inner **appsFields) error {
	if err := d.open(); err != nil {
		return err
	}
	for n := 0; ; n++ {
		k, ok, err := d.member(n)
		if err != nil || !ok {
			return err
		}
		m := applicationsRootMembers.lookup(d.bytes(k))
		switch {
		case m == mApplicationsWrapper && inner != nil:
			err = d.applicationsWrapper(inner)
		case m == mVersionsDelta:
			err = d.int(&f.versionsDelta)
		case m == mVersionsDeltaOne:
			err = d.int(&f.versionsDeltaOne)
		case m == mAppsHashcode:
			err = d.text(&f.hashcode)
		case m == mAppsHashcodeOne:
			err = d.text(&f.hashcodeOne)
		case m == mApplication:
			err = d.applications(&f.apps)
		default:
			err = d.skip()
		}
		if err != nil {
			if m >= 0 {
				err = inMember(applicationsRootMembers.names[m], err)
			}
			return err
		}
	}
}

// applicationsWrapper reads the "applications" member into *p.
func (d *appsDecoder) applicationsWrapper(p **appsFields) error {
	switch d.data[d.pos] {
	case 'n':
		*p = nil
		_, err := d.literal()
		return err
	case '{':
		if *p == nil {
			*p = new(appsFields)
		}
		return d.appsObject(*p, nil)
	}
	return d.wrongType("an object")
}

// wrapper reads the "application" member of an application document.
func (d *appsDecoder) wrapper(p **appFields) error {
	switch d.data[d.pos] {
	case 'n':
		*p = nil
		_, err := d.literal()
		return err
	case '{':
		if *p == nil {
			*p = new(appFields)
		}
		return d.app(*p)
	}
	return d.wrongType("an object")
}

// app reads the application object at pos into a.
func (d *appsDecoder) app(a *appFields) error {
	if err := d.open(); err != nil {
		return err
	}
	for n := 0; ; n++ {
		k, ok, err := d.member(n)
		if err != nil || !ok {
			return err
		}
		// The names of an application are those of the document after
		// the wrapper.
		switch applicationRootMembers.lookup(d.bytes(k)) {
		case mAppName:
			err = inMember("name", d.text(&a.name))
		case mAppInstance:
			err = inMember("instance", d.instances(&a.instances))
		default:
			err = d.skip()
		}
		if err != nil {
			return err
		}
	}
}

// applications reads an "application" list member.
func (d *appsDecoder) applications(l *[]*appFields) error {
	return readList(d, l, "an application", func() *appFields { return new(appFields) }, d.app)
}

// instances reads an "instance" list member.
func (d *appsDecoder) instances(l *[]*instanceFields) error {
	return readList(d, l, "an instance", d.newInstance, d.instanceObject)
}

func (d *appsDecoder) instanceObject(f *instanceFields) error {
	return d.object(f, false)
}

// newInstance returns a new empty instanceFields, from a slab.
func (d *appsDecoder) newInstance() *instanceFields {
	if len(d.slab) == 0 {
		d.slabSize = min(max(2*d.slabSize, 4), 64)
		d.slab = make([]instanceFields, d.slabSize)
	}
	f := &d.slab[0]
	d.slab = d.slab[1:]
	return f
}

// readList reads a list member into *l as encoding/json read it into a
// slice of pointers (see appsDecoder): null, one object or an array of
// objects and nulls. alloc makes a new element and read reads the object
// at pos into one.
func readList[T any](d *appsDecoder, l *[]*T, what string, alloc func() *T, read func(*T) error) error {
	switch d.data[d.pos] {
	case 'n':
		_, err := d.literal()
		return err
	case '{':
		v := alloc()
		if err := read(v); err != nil {
			return err
		}
		*l = append(*l, v)
		return nil
	case '[':
	default:
		return d.wrongType("a list of " + what[3:] + "s")
	}
	if err := d.open(); err != nil {
		return err
	}
	s := *l
	if d.emptyArray() {
		*l = nil // encoding/json sets a new empty slice
		return nil
	}
	for i := 0; ; i++ {
		d.skipSpace()
		if d.pos >= len(d.data) {
			return errJSONEOF
		}
		if i >= cap(s) {
			s = slices.Grow(s, 1) // as reflect.Value.Grow(1)
		}
		if i >= len(s) {
			s = s[:i+1]
		}
		switch d.data[d.pos] {
		case 'n':
			if _, err := d.literal(); err != nil {
				return err
			}
			s[i] = nil
		case '{':
			if s[i] == nil {
				s[i] = alloc()
			}
			if err := read(s[i]); err != nil {
				return err
			}
		default:
			return d.wrongType(what)
		}
		if more, err := d.afterElement(); !more {
			if err == nil {
				*l = s[:i+1]
			}
			return err
		}
	}
}

// application turns the members read into a into an Application.
func (d *appsDecoder) application(a *appFields) (*Application, error) {
	if !d.textOK(a.name) {
		return nil, fieldError("application name", ErrInvalidUTF8)
	}
	app := &Application{Name: d.keepText(a.name), Instances: make([]*InstanceInfo, 0, len(a.instances))}
	for _, f := range a.instances {
		if f == nil {
			continue
		}
		in, err := d.instance(f)
		if err != nil {
			return nil, err
		}
		app.Instances = append(app.Instances, in)
	}
	return app, nil
}

// header is the registry's versions__delta and apps__hashcode as f holds
// them, in an Applications with room for n applications.
func (d *appsDecoder) header(f *appsFields, n int) (*Applications, error) {
	apps := &Applications{VersionsDelta: f.versionsDelta.v, Applications: make([]*Application, 0, n)}
	if !f.versionsDelta.set {
		apps.VersionsDelta = f.versionsDeltaOne.v
	}
	hash := f.hashcode
	if !hash.set() {
		hash = f.hashcodeOne
	}
	if !d.textOK(hash) {
		return nil, fieldError("apps__hashcode", ErrInvalidUTF8)
	}
	apps.AppsHashcode = d.keepText(hash)
	return apps, nil
}
