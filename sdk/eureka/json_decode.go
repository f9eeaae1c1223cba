package eureka

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// DecodeInstanceJSON decodes an instance as clients send it: wrapped as
// {"instance":{…}} (the register body) or as a bare object. It accepts
// every variant in docs/protocol.md §3.8: numbers as strings or numbers,
// "@enabled" as a string or boolean, both spellings of overriddenStatus,
// statuses in any case, explicit nulls, unknown keys, any or no "@class".
//
// Defaults for what the body leaves out follow the Java builder: status UP,
// overridden status UNKNOWN, port 7001 enabled, secure port 7002 disabled,
// country 1, lease 30/90 s. App and appGroupName are upper-cased;
// dataCenterInfo names are put in their canonical case and metadata is
// kept only for Amazon. LeaseInfo and Metadata are never nil.
//
// A missing lastDirtyTimestamp is left 0: the Java server takes "now" at
// parse time, and the registry does that when it stores the instance.
func DecodeInstanceJSON(data []byte) (*InstanceInfo, error) {
	var d instanceDecoder
	in, err := d.decode(data)
	if err != nil {
		return nil, malformed("instance JSON", err)
	}
	return in, nil
}

// instanceDecoder decodes one instance document in a single pass. It
// reproduces what encoding/json did with the jsonInstance types (now in
// reference_json_test.go, with the reference decoders): the same
// documents fail and the others give the same InstanceInfo, which
// FuzzDecodeInstanceJSONDifferential checks against that decoder, except
// that a kept string encoding/json would rewrite to U+FFFD fails the
// decode (ErrInvalidUTF8). What
// encoding/json contributed, and is copied here, is:
//
//   - syntax: the document is checked whole, as by its scanner (json_lex.go);
//     nothing but space may follow the object;
//   - member names match a field exactly or else case-insensitively (with
//     encoding/json's Unicode folding, foldJSONKey); a name that folds like
//     two fields goes to the first of jsonInstance, so any spelling of
//     overriddenStatus other than exactly "overriddenstatus" is the new one;
//   - a member repeated is read again into the same field: objects merge,
//     null leaves a value field as it was but makes dataCenterInfo,
//     leaseInfo or instance absent again (a later object starts afresh);
//   - strings are unquoted as encoding/json does (appendUnquoted).
//
// The members are first gathered in instanceFields and turned into an
// InstanceInfo at the end, from the "instance" member when there was one
// (the members beside it are still checked), else from the bare object.
//
// Strings are not converted one by one: the kept ones are copied into an
// arena (a strings.Builder, which never moves what it has handed out) and
// sliced from it, so a typical instance costs one string allocation and
// holds on to its values only, not to the document.
type instanceDecoder struct {
	jsonLexer
	arena strings.Builder
	// minReserve is the least the arena grows by (the registry decoder
	// sets it to share allocations between instances).
	minReserve int
	outer      instanceFields // members of the document object
	inner      instanceFields // members of its "instance" member
	hasInner   bool
}

// instanceFields holds the members of an instance object as read so far;
// text members are spans of the input until the end.
type instanceFields struct {
	text         [numTextMembers]jsonSpan
	port         jsonPort
	securePort   jsonPort
	countryID    jsonInt
	lastUpdated  jsonInt
	lastDirty    jsonInt
	coordinating jsonBool
	metadata     map[string]string
	hasDC        bool
	dcName       jsonSpan
	dcMetadata   map[string]string
	hasLease     bool
	lease        jsonLease
}

// Instance members. The text members come first so that they index
// instanceFields.text.
const (
	mInstanceID = iota
	mHostName
	mApp
	mIPAddr
	mSID
	mStatus
	mOverriddenStatus
	mOverriddenStatusOld
	mAppGroupName
	mHomePageURL
	mStatusPageURL
	mHealthCheckURL
	mSecureHealthCheckURL
	mVIPAddress
	mSecureVIPAddress
	mActionType
	mASGName
	mPort // the first member that is not text
	mSecurePort
	mCountryID
	mDataCenterInfo
	mLeaseInfo
	mMetadata
	mIsCoordinatingDiscoveryServer
	mLastUpdatedTimestamp
	mLastDirtyTimestamp
	mInstance // the wrapper, in the document object only
	mUnknown
)

const numTextMembers = mPort

// instanceMemberNames are the member names, indexed by member.
var instanceMemberNames = [...]string{
	mInstanceID:                    "instanceId",
	mHostName:                      "hostName",
	mApp:                           "app",
	mIPAddr:                        "ipAddr",
	mSID:                           "sid",
	mStatus:                        "status",
	mOverriddenStatus:              "overriddenStatus",
	mOverriddenStatusOld:           "overriddenstatus",
	mAppGroupName:                  "appGroupName",
	mHomePageURL:                   "homePageUrl",
	mStatusPageURL:                 "statusPageUrl",
	mHealthCheckURL:                "healthCheckUrl",
	mSecureHealthCheckURL:          "secureHealthCheckUrl",
	mVIPAddress:                    "vipAddress",
	mSecureVIPAddress:              "secureVipAddress",
	mActionType:                    "actionType",
	mASGName:                       "asgName",
	mPort:                          "port",
	mSecurePort:                    "securePort",
	mCountryID:                     "countryId",
	mDataCenterInfo:                "dataCenterInfo",
	mLeaseInfo:                     "leaseInfo",
	mMetadata:                      "metadata",
	mIsCoordinatingDiscoveryServer: "isCoordinatingDiscoveryServer",
	mLastUpdatedTimestamp:          "lastUpdatedTimestamp",
	mLastDirtyTimestamp:            "lastDirtyTimestamp",
	mInstance:                      "instance",
	mUnknown:                       "",
}

// memberTable finds the member an object key names as encoding/json finds
// a struct field: the name that matches the key exactly, else the first
// that matches it case-insensitively (with foldJSONKey). The names are
// ASCII and in field order.
//
// It also knows the orders in which the usual encoders write the names
// (then), so that a decoder can check for the keys likely to come next by
// their bytes alone (instanceDecoder.next): a stored record, read back at
// a restart, is AppendInstanceJSON's output, and most registrations come
// from the Java and Spring clients.
type memberTable struct {
	names  []string
	upper  []string    // the names in upper case
	quoted []string    // the names as keys: `"name":`
	byLen  [32][]uint8 // the names of each length, in order
	first  int         // the name the first order writes first, or -1
	after  [][2]int    // the name each order writes after each, or -1
	orders int         // how many orders then recorded
}

func newMemberTable(names ...string) *memberTable {
	t := &memberTable{names: names, first: -1}
	for i, n := range names {
		t.upper = append(t.upper, strings.ToUpper(n))
		t.quoted = append(t.quoted, `"`+n+`":`)
		t.byLen[len(n)] = append(t.byLen[len(n)], uint8(i))
		t.after = append(t.after, [2]int{-1, -1})
	}
	return t
}

// then records an order in which an encoder writes members; the first
// recorded is AppendInstanceJSON's.
func (t *memberTable) then(order ...int) *memberTable {
	if t.orders == 0 {
		t.first = order[0]
	}
	for i := 1; i < len(order); i++ {
		t.after[order[i-1]][t.orders] = order[i]
	}
	t.orders++
	return t
}

// expected returns the members likely to come after m (-1 for none, or
// for the start of the object): the next in each order, then the one
// after the next in the first order, since AppendInstanceJSON leaves out
// empty optional members (appGroupName, secureHealthCheckUrl), one at a
// time mostly.
func (t *memberTable) expected(m int) [3]int {
	if m < 0 {
		return [3]int{t.first, -1, -1}
	}
	a := t.after[m]
	skip := -1
	if a[0] >= 0 {
		skip = t.after[a[0]][0]
	}
	if a[1] == a[0] {
		a[1] = -1
	}
	return [3]int{a[0], a[1], skip}
}

// lookup returns the index of the name key matches, or -1.
func (t *memberTable) lookup(key []byte) int {
	if 0 < len(key) && len(key) < len(t.byLen) {
		for _, i := range t.byLen[len(key)] {
			if n := t.names[i]; n[0] == key[0] && string(key) == n {
				return int(i)
			}
		}
	}
	var buf [len(t.byLen)]byte
	folded, ok := foldJSONKey(buf[:0], key)
	if !ok || len(folded) >= len(t.byLen) {
		return -1
	}
	for _, i := range t.byLen[len(folded)] {
		if string(folded) == t.upper[i] {
			return int(i)
		}
	}
	return -1
}

var (
	// instanceMembers holds the members of an instance object and the
	// "instance" wrapper. overriddenStatus comes before overriddenstatus,
	// as in jsonInstance, so that any other spelling is the first.
	instanceMembers = newMemberTable(instanceMemberNames[:mUnknown]...).then(
		mInstanceID, mHostName, mApp, mIPAddr, mSID, mStatus, mOverriddenStatus,
		mPort, mSecurePort, mCountryID, mDataCenterInfo, mLeaseInfo, mMetadata,
		mAppGroupName, mHomePageURL, mStatusPageURL, mHealthCheckURL,
		mSecureHealthCheckURL, mVIPAddress, mSecureVIPAddress,
		mIsCoordinatingDiscoveryServer, mLastUpdatedTimestamp,
		mLastDirtyTimestamp, mActionType, mASGName,
	).then( // the Java client's, as Spring Cloud sends it
		mInstanceID, mApp, mAppGroupName, mIPAddr, mSID, mHomePageURL,
		mStatusPageURL, mHealthCheckURL, mSecureHealthCheckURL, mVIPAddress,
		mSecureVIPAddress, mCountryID, mDataCenterInfo, mHostName, mStatus,
		mOverriddenStatus, mLeaseInfo, mIsCoordinatingDiscoveryServer,
		mLastUpdatedTimestamp, mLastDirtyTimestamp, mActionType, mASGName,
		mPort, mSecurePort, mMetadata,
	)
	dataCenterMembers = newMemberTable("name", "metadata")
	leaseMembers      = newMemberTable(
		"renewalIntervalInSecs", "durationInSecs", "registrationTimestamp",
		"lastRenewalTimestamp", "renewalTimestamp", "evictionTimestamp",
		"serviceUpTimestamp",
	).then(0, 1, 2, 3, 5, 6) // not renewalTimestamp, an older name
)

// jsonValueError is a member value of the wrong type or out of range.
// path names the member, as "leaseInfo.durationInSecs". err, when set, is
// a sentinel the error matches (ErrInvalidUTF8).
type jsonValueError struct {
	path, msg string
	err       error
}

func (e *jsonValueError) Unwrap() error { return e.err }

func (e *jsonValueError) Error() string {
	if e.path == "" {
		return e.msg
	}
	return e.path + ": " + e.msg
}

// inMember adds the member name to the path of a value error.
func inMember(name string, err error) error {
	if e, ok := err.(*jsonValueError); ok {
		if e.path == "" {
			e.path = name
		} else {
			e.path = name + "." + e.path
		}
	}
	return err
}

// wrongType is the error for the value at pos, which is not of the type
// wanted (or, if it is no value at all, a syntax error).
func (d *instanceDecoder) wrongType(want string) error {
	var got string
	switch d.data[d.pos] {
	case '{':
		got = "an object"
	case '[':
		got = "an array"
	case 't', 'f':
		got = "a boolean"
	case '"':
		got = "a string"
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		got = "a number"
	default:
		return d.fail("looking for beginning of value")
	}
	return &jsonValueError{msg: "cannot use " + got + " as " + want}
}

func (d *instanceDecoder) decode(data []byte) (*InstanceInfo, error) {
	data, err := jsonObjectBody(data)
	if err != nil {
		return nil, err
	}
	d.data = data
	d.skipSpace()
	if err := d.object(&d.outer, true); err != nil {
		return nil, err
	}
	d.skipSpace()
	if d.pos < len(d.data) {
		return nil, d.fail("after top-level value")
	}
	if d.hasInner {
		return d.instance(&d.inner)
	}
	return d.instance(&d.outer)
}

// object reads the instance object at pos into f; root says it is the
// document object, which may have the "instance" wrapper member.
func (d *instanceDecoder) object(f *instanceFields, root bool) error {
	if err := d.open(); err != nil {
		return err
	}
	prev := -1
	for n := 0; ; n++ {
		m, ok, err := d.next(instanceMembers, n, prev)
		if err != nil || !ok {
			return err
		}
		prev = m
		if m < 0 || m == mInstance && !root {
			m = mUnknown
		}
		switch {
		case m < numTextMembers:
			err = d.text(&f.text[m])
		case m == mPort:
			err = d.port(&f.port)
		case m == mSecurePort:
			err = d.port(&f.securePort)
		case m == mCountryID:
			err = d.int(&f.countryID)
		case m == mLastUpdatedTimestamp:
			err = d.int(&f.lastUpdated)
		case m == mLastDirtyTimestamp:
			err = d.int(&f.lastDirty)
		case m == mIsCoordinatingDiscoveryServer:
			err = d.bool(&f.coordinating)
		case m == mMetadata:
			err = d.metadata(&f.metadata)
		case m == mDataCenterInfo:
			err = d.dataCenter(f)
		case m == mLeaseInfo:
			err = d.leaseInfo(f)
		case m == mInstance:
			err = d.wrapped()
		default:
			err = d.skip()
		}
		if err != nil {
			return inMember(instanceMemberNames[m], err)
		}
	}
}

// next reads the key of the next member of an object whose members t
// names, n members in, as member does, and returns which of t's names it
// is (-1 for none). prev is the member read before it (-1 for none, or
// at the start): the members likely to follow it (memberTable.expected)
// are looked for first, by their bytes alone, which is exact for a key
// written without escapes or space, and lets most keys skip scanning and
// lookup.
func (d *instanceDecoder) next(t *memberTable, n, prev int) (m int, ok bool, err error) {
	for _, m := range t.expected(prev) {
		if m < 0 {
			continue
		}
		if found, err := d.memberIs(n, t.quoted[m]); found || err != nil {
			return m, found, err
		}
	}
	k, ok, err := d.member(n)
	if err != nil || !ok {
		return -1, ok, err
	}
	return t.lookup(d.bytes(k)), true, nil
}

// openOrNull reads null (isObject false) or enters the object at pos.
func (d *instanceDecoder) openOrNull() (isObject bool, err error) {
	switch d.data[d.pos] {
	case 'n':
		_, err = d.literal()
		return false, err
	case '{':
		return true, d.open()
	}
	return false, d.wrongType("an object")
}

// wrapped reads the "instance" member.
func (d *instanceDecoder) wrapped() error {
	if d.data[d.pos] != '{' {
		d.hasInner = false
		_, err := d.openOrNull()
		return err
	}
	if !d.hasInner {
		d.inner = instanceFields{}
		d.hasInner = true
	}
	return d.object(&d.inner, false)
}

// scalar reads a value that must not be an object or array. tok says what
// it was: '"', '0' (a number), 't', 'f' or 'n'; for null the span is unset.
func (d *instanceDecoder) scalar(want string) (s jsonSpan, tok byte, err error) {
	switch c := d.data[d.pos]; c {
	case '"':
		s, err = d.str()
		return s, c, err
	case 't', 'f':
		s, err = d.literal()
		return s, c, err
	case 'n':
		_, err = d.literal()
		return jsonSpan{}, c, err
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		s, err = d.number()
		return s, '0', err
	}
	return s, 0, d.wrongType(want)
}

// text reads a text member (jsonText): a string, or a number or boolean
// taken as its literal text. null leaves t as it was.
func (d *instanceDecoder) text(t *jsonSpan) error {
	s, _, err := d.scalar("text")
	if err == nil && s.set() {
		*t = s
	}
	return err
}

// int reads an integer member (jsonInt): a number or a numeric string.
// null leaves n as it was; "" makes it unset again.
func (d *instanceDecoder) int(n *jsonInt) error {
	s, tok, err := d.scalar("an integer")
	switch {
	case err != nil, tok == 'n':
		return err
	case tok == 't', tok == 'f':
		return &jsonValueError{msg: "cannot use a boolean as an integer"}
	}
	v, ok, err := parseIntJSON(d.bytes(s))
	if err != nil {
		return &jsonValueError{msg: err.Error()}
	}
	n.v, n.set = v, ok
	return nil
}

// parseIntJSON is parseIntText(string(b), 64), without the conversion for
// the usual short decimal numbers.
func parseIntJSON(b []byte) (int64, bool, error) {
	i := 0
	if len(b) > 0 && (b[0] == '-' || b[0] == '+') {
		i = 1
	}
	if n := len(b) - i; n > 0 && n <= 18 {
		var v int64
		for _, c := range b[i:] {
			if !isDigit(c) {
				return parseIntText(string(b), 64)
			}
			v = v*10 + int64(c-'0')
		}
		if b[0] == '-' {
			v = -v
		}
		return v, true, nil
	}
	return parseIntText(string(b), 64)
}

// bool reads a flag member (jsonBool): a boolean, a string ("true" in any
// case is true) or a number (non-zero is true). null leaves f as it was.
func (d *instanceDecoder) bool(f *jsonBool) error {
	s, tok, err := d.scalar("a boolean")
	if err != nil || tok == 'n' {
		return err
	}
	switch tok {
	case 't', 'f':
		f.v = tok == 't'
	case '"':
		f.v = parseBoolText(string(d.bytes(s)))
	case '0':
		v, perr := strconv.ParseFloat(string(d.data[s.lo:s.hi]), 64)
		if perr != nil {
			return &jsonValueError{msg: "cannot use number " + string(d.data[s.lo:s.hi]) + " as a boolean"}
		}
		f.v = v != 0
	}
	f.set = true
	return nil
}

// port reads a port member (jsonPort): {"$":…,"@enabled":…}, matched
// exactly, or leniently a bare number or numeric string.
func (d *instanceDecoder) port(p *jsonPort) error {
	switch d.data[d.pos] {
	case 'n':
		_, err := d.literal()
		return err
	case '"', '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		return d.int(&p.number)
	case '{':
	default:
		return d.wrongType("a port")
	}
	if err := d.open(); err != nil {
		return err
	}
	for n := 0; ; n++ {
		key, ok, err := d.portKey(n)
		if err != nil || !ok {
			return err
		}
		switch key {
		case "$":
			err = inMember("$", d.int(&p.number))
		case "@enabled":
			err = inMember("@enabled", d.bool(&p.enabled))
		default:
			err = d.skip()
		}
		if err != nil {
			return err
		}
	}
}

// portKey reads the key of the next member of a port object, as member
// does. The keys that mean something are matched exactly, so the
// encoder's are looked for by their bytes first.
func (d *instanceDecoder) portKey(n int) (key string, ok bool, err error) {
	for _, k := range [...]struct{ name, quoted string }{{"$", `"$":`}, {"@enabled", `"@enabled":`}} {
		if found, err := d.memberIs(n, k.quoted); found || err != nil {
			return k.name, found, err
		}
	}
	s, ok, err := d.member(n)
	if err != nil || !ok {
		return "", ok, err
	}
	return string(d.bytes(s)), true, nil
}

// metadata reads a string map member (jsonMap) into *m: "@class" is
// skipped, null members are dropped, numbers and booleans are kept as
// their literal text and objects and arrays as their JSON text.
func (d *instanceDecoder) metadata(m *map[string]string) error {
	if ok, err := d.openOrNull(); !ok {
		return err
	}
	// The entries are gathered first and the map made once at its size:
	// Spring clients send ten or so, past the eight a map holds before
	// it grows.
	var small [16]metadataEntry
	entries := small[:0]
	for n := 0; ; n++ {
		k, ok, err := d.member(n)
		if err != nil {
			return err
		}
		if !ok {
			if *m == nil {
				*m = make(map[string]string, len(entries))
			}
			for _, e := range entries {
				(*m)[e.k] = e.v
			}
			return nil
		}
		key := d.bytes(k)
		if string(key) == "@class" {
			if err := d.skip(); err != nil {
				return err
			}
			continue
		}
		var v string
		switch c := d.data[d.pos]; c {
		case '{', '[':
			start := d.pos
			if err := d.skip(); err != nil {
				return err
			}
			// Kept as its JSON text, bytes and all.
			if !utf8.Valid(d.data[start:d.pos]) {
				return invalidMetadata("a value")
			}
			v = d.keepChunk(d.data[start:d.pos])
		default:
			s, tok, err := d.scalar("text")
			if err != nil {
				return err
			}
			switch tok {
			case 'n':
				continue
			case 't':
				v = "true"
			case 'f':
				v = "false"
			default:
				if !d.textOK(s) {
					return invalidMetadata("a value")
				}
				v = d.keepChunk(d.bytes(s))
			}
		}
		if !d.textOK(k) {
			return invalidMetadata("a key")
		}
		entries = append(entries, metadataEntry{d.keepChunk(key), v})
	}
}

type metadataEntry struct{ k, v string }

// invalidMetadata is the error for a metadata key or value that is not
// text; it names neither.
func invalidMetadata(what string) error {
	return &jsonValueError{msg: what + " is " + ErrInvalidUTF8.Error(), err: ErrInvalidUTF8}
}

// dataCenter reads the dataCenterInfo member.
func (d *instanceDecoder) dataCenter(f *instanceFields) error {
	if ok, err := d.openOrNull(); !ok {
		f.hasDC = false
		return err
	}
	if !f.hasDC {
		f.hasDC, f.dcName, f.dcMetadata = true, jsonSpan{}, nil
	}
	for n := 0; ; n++ {
		k, ok, err := d.member(n)
		if err != nil || !ok {
			return err
		}
		switch dataCenterMembers.lookup(d.bytes(k)) {
		case 0:
			err = inMember("name", d.text(&f.dcName))
		case 1:
			err = inMember("metadata", d.metadata(&f.dcMetadata))
		default:
			err = d.skip()
		}
		if err != nil {
			return err
		}
	}
}

// leaseInfo reads the leaseInfo member.
func (d *instanceDecoder) leaseInfo(f *instanceFields) error {
	if ok, err := d.openOrNull(); !ok {
		f.hasLease = false
		return err
	}
	if !f.hasLease {
		f.hasLease, f.lease = true, jsonLease{}
	}
	l := &f.lease
	fields := [...]*jsonInt{
		&l.RenewalIntervalInSecs, &l.DurationInSecs, &l.RegistrationTimestamp,
		&l.LastRenewalTimestamp, &l.RenewalTimestamp, &l.EvictionTimestamp,
		&l.ServiceUpTimestamp,
	}
	prev := -1
	for n := 0; ; n++ {
		m, ok, err := d.next(leaseMembers, n, prev)
		if err != nil || !ok {
			return err
		}
		prev = m
		if m >= 0 {
			err = inMember(leaseMembers.names[m], d.int(fields[m]))
		} else {
			err = d.skip()
		}
		if err != nil {
			return err
		}
	}
}

// textOK reports whether the text of s can be kept as sent (see
// validJSONText); only strings with escapes or non-ASCII bytes need a
// look.
func (d *instanceDecoder) textOK(s jsonSpan) bool {
	return s.kind != spanEsc || validJSONText(d.data[s.lo:s.hi])
}

// keptText checks the text members of f that an InstanceInfo keeps, and
// returns how many bytes they take.
func (d *instanceDecoder) keptText(f *instanceFields) (int, error) {
	n := 0
	for _, m := range [...]int{
		mInstanceID, mHostName, mApp, mIPAddr, mSID, mAppGroupName, mHomePageURL,
		mStatusPageURL, mHealthCheckURL, mSecureHealthCheckURL, mVIPAddress,
		mSecureVIPAddress, mASGName,
	} {
		s := f.text[m]
		if !d.textOK(s) {
			return 0, fieldError(instanceMemberNames[m], ErrInvalidUTF8)
		}
		n += s.hi - s.lo
	}
	if f.hasDC && !d.textOK(f.dcName) {
		return 0, fieldError("dataCenterInfo.name", ErrInvalidUTF8)
	}
	return n, nil
}

// bytes returns the text of s: the literal, or the string unquoted,
// which (rarely) needs a copy.
func (d *instanceDecoder) bytes(s jsonSpan) []byte {
	if s.kind == spanEsc {
		return appendUnquoted(nil, d.data[s.lo:s.hi])
	}
	return d.data[s.lo:s.hi]
}

// arenaChunk is the least the arena grows by while members are read.
const arenaChunk = 256

// keepChunk returns b as a string in the arena, growing the arena by at
// least arenaChunk when b does not fit.
func (d *instanceDecoder) keepChunk(b []byte) string {
	if d.arena.Cap()-d.arena.Len() < len(b) {
		d.reserve(max(len(b), arenaChunk))
	}
	return d.keep(b)
}

// reserve makes room for n more bytes in the arena. A full arena is left
// to the strings already taken from it, and a new one started.
func (d *instanceDecoder) reserve(n int) {
	if d.arena.Cap()-d.arena.Len() < n {
		d.arena.Reset()
		d.arena.Grow(max(n, d.minReserve))
	}
}

// keep returns b as a string in the arena.
func (d *instanceDecoder) keep(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	d.reserve(len(b))
	n := d.arena.Len()
	d.arena.Write(b)
	return d.arena.String()[n:]
}

// keepText returns the text of s as a string in the arena.
func (d *instanceDecoder) keepText(s jsonSpan) string {
	return d.keep(d.bytes(s))
}

// keepUpper is keepText for a member finishInstance upper-cases: ASCII
// text is upper-cased as it is kept, so that strings.ToUpper has nothing
// left to do.
func (d *instanceDecoder) keepUpper(s jsonSpan) string {
	b := d.bytes(s)
	if len(b) == 0 {
		// Not an empty slice of the arena, which would keep it alive.
		return ""
	}
	for _, c := range b {
		if c >= utf8.RuneSelf {
			return d.keep(b)
		}
	}
	d.reserve(len(b))
	n := d.arena.Len()
	for _, c := range b {
		if 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		}
		d.arena.WriteByte(c)
	}
	return d.arena.String()[n:]
}

// status is ParseStatusLenient of the text of s.
func (d *instanceDecoder) status(s jsonSpan) Status {
	b := d.bytes(s)
	for _, c := range b {
		if c >= utf8.RuneSelf {
			return ParseStatusLenient(string(b))
		}
	}
	// For ASCII text ParseStatusLenient comes down to this.
	for len(b) > 0 && asciiSpace(b[0]) {
		b = b[1:]
	}
	for len(b) > 0 && asciiSpace(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	var upper [len(StatusOutOfService)]byte
	if len(b) > len(upper) {
		return StatusUnknown
	}
	for i, c := range b {
		if 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		}
		upper[i] = c
	}
	switch Status(upper[:len(b)]) {
	case StatusUp:
		return StatusUp
	case StatusDown:
		return StatusDown
	case StatusStarting:
		return StatusStarting
	case StatusOutOfService:
		return StatusOutOfService
	}
	return StatusUnknown
}

// asciiSpace reports whether strings.TrimSpace trims the ASCII byte c.
func asciiSpace(c byte) bool {
	return c == ' ' || '\t' <= c && c <= '\r'
}

// dataCenterName is canonicalDataCenterName of the text of s.
func (d *instanceDecoder) dataCenterName(s jsonSpan) string {
	b := d.bytes(s)
	for _, n := range [...]string{DataCenterMyOwn, DataCenterAmazon, DataCenterNetflix} {
		if bytes.EqualFold(b, []byte(n)) {
			return n
		}
	}
	return d.keep(b)
}

// instance turns the members read into f into an InstanceInfo, as
// jsonInstance.instance does.
func (d *instanceDecoder) instance(f *instanceFields) (*InstanceInfo, error) {
	t := &f.text
	n, err := d.keptText(f)
	if err != nil {
		return nil, err
	}
	d.reserve(n)
	in := &InstanceInfo{
		InstanceID:                    d.keepText(t[mInstanceID]),
		HostName:                      d.keepText(t[mHostName]),
		App:                           d.keepUpper(t[mApp]),
		IPAddr:                        d.keepText(t[mIPAddr]),
		SID:                           d.keepText(t[mSID]),
		Status:                        StatusUp,
		OverriddenStatus:              StatusUnknown,
		Metadata:                      f.metadata,
		AppGroupName:                  d.keepUpper(t[mAppGroupName]),
		HomePageURL:                   d.keepText(t[mHomePageURL]),
		StatusPageURL:                 d.keepText(t[mStatusPageURL]),
		HealthCheckURL:                d.keepText(t[mHealthCheckURL]),
		SecureHealthCheckURL:          d.keepText(t[mSecureHealthCheckURL]),
		VIPAddress:                    d.keepText(t[mVIPAddress]),
		SecureVIPAddress:              d.keepText(t[mSecureVIPAddress]),
		IsCoordinatingDiscoveryServer: f.coordinating.v,
		LastUpdatedTimestamp:          f.lastUpdated.v,
		LastDirtyTimestamp:            f.lastDirty.v,
		ActionType:                    parseActionType(string(d.bytes(t[mActionType]))),
		ASGName:                       d.keepText(t[mASGName]),
	}
	if t[mStatus].set() {
		in.Status = d.status(t[mStatus])
	}
	switch {
	case t[mOverriddenStatus].set():
		in.OverriddenStatus = d.status(t[mOverriddenStatus])
	case t[mOverriddenStatusOld].set():
		in.OverriddenStatus = d.status(t[mOverriddenStatusOld])
	}
	if in.Port, err = f.port.port(defaultPort, false); err != nil {
		return nil, fieldError("port", err)
	}
	if in.SecurePort, err = f.securePort.port(defaultSecurePort, true); err != nil {
		return nil, fieldError("securePort", err)
	}
	if f.countryID.set {
		v, err := narrowInt(f.countryID.v, strconv.IntSize)
		if err != nil {
			return nil, fieldError("countryId", err)
		}
		in.CountryID = int(v)
	}
	if f.hasDC {
		in.DataCenterInfo = &DataCenterInfo{Name: d.dataCenterName(f.dcName), Metadata: f.dcMetadata}
	}
	if f.hasLease {
		l := &f.lease
		li := &LeaseInfo{
			RegistrationTimestamp: l.RegistrationTimestamp.v,
			LastRenewalTimestamp:  l.LastRenewalTimestamp.v,
			EvictionTimestamp:     l.EvictionTimestamp.v,
			ServiceUpTimestamp:    l.ServiceUpTimestamp.v,
		}
		if !l.LastRenewalTimestamp.set {
			li.LastRenewalTimestamp = l.RenewalTimestamp.v
		}
		// Out-of-range intervals are treated like non-positive ones: the
		// default replaces them.
		if v, err := narrowInt(l.RenewalIntervalInSecs.v, 32); err == nil {
			li.RenewalIntervalInSecs = int32(v)
		}
		if v, err := narrowInt(l.DurationInSecs.v, 32); err == nil {
			li.DurationInSecs = int32(v)
		}
		in.LeaseInfo = li
	}
	finishInstance(in)
	return in, nil
}

// jsonObjectBody drops a UTF-8 byte order mark (Jackson accepts one) and
// rejects documents that are not an object (null, arrays, scalars), which
// encoding/json would otherwise accept or half-decode.
func jsonObjectBody(data []byte) ([]byte, error) {
	data = bytes.TrimPrefix(data, []byte("\uFEFF"))
	i := skipJSONSpace(data, 0)
	if i < len(data) && data[i] == '{' {
		return data, nil
	}
	return nil, errors.New("expected a JSON object")
}

type jsonLease struct {
	RenewalIntervalInSecs jsonInt `json:"renewalIntervalInSecs"`
	DurationInSecs        jsonInt `json:"durationInSecs"`
	RegistrationTimestamp jsonInt `json:"registrationTimestamp"`
	LastRenewalTimestamp  jsonInt `json:"lastRenewalTimestamp"`
	RenewalTimestamp      jsonInt `json:"renewalTimestamp"` // older name of lastRenewalTimestamp
	EvictionTimestamp     jsonInt `json:"evictionTimestamp"`
	ServiceUpTimestamp    jsonInt `json:"serviceUpTimestamp"`
}

func fieldError(field string, err error) error {
	return fmt.Errorf("%s: %w", field, err)
}
