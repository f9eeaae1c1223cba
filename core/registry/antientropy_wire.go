package registry

import (
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/eurekad/eurekad/sdk/eureka"
)

// The anti-entropy wire format, eurekad to eurekad only (Java peers have
// no such endpoints):
//
//	GET  peerreplication/digest    → {"apps":{"SVC":"<16 hex digits>",…}}
//	POST peerreplication/exchange  {"apps":[<state>,…]}
//	                               → {"apps":[<state>,…],"adopted":n,"cancelled":n}
//	<state> = {"name":"SVC",
//	           "instances":[{"stamp":<ms>,"override":"OUT_OF_SERVICE","instance":{…Eureka JSON…}}],
//	           "tombstones":[{"id":"i2","stamp":<ms>,"dirty":<ms>}],
//	           "part":true}
//
// "part" marks a piece of an application sent in several requests: the
// answer leaves it out, and carries the application for its last piece.
// A peer that predates it answers the whole application for every piece,
// which is larger but as correct.

type wireDigest struct {
	Apps map[string]string `json:"apps"`
}

// EncodeDigest writes a Digest.
func EncodeDigest(d map[string]uint64) []byte {
	w := wireDigest{Apps: make(map[string]string, len(d))}
	for k, v := range d {
		w.Apps[k] = strconv.FormatUint(v, 16)
	}
	b, _ := json.Marshal(w)
	return b
}

// DecodeDigest reads what EncodeDigest wrote.
func DecodeDigest(b []byte) (map[string]uint64, error) {
	var w wireDigest
	if err := json.Unmarshal(b, &w); err != nil {
		return nil, fmt.Errorf("digest: %w", err)
	}
	if w.Apps == nil {
		return nil, fmt.Errorf("digest: no apps")
	}
	d := make(map[string]uint64, len(w.Apps))
	for k, v := range w.Apps {
		n, err := strconv.ParseUint(v, 16, 64)
		if err != nil {
			return nil, fmt.Errorf("digest of %q: %w", k, err)
		}
		d[k] = n
	}
	return d, nil
}

type wireInstance struct {
	Stamp    int64           `json:"stamp"`
	Override eureka.Status   `json:"override,omitempty"`
	Instance json.RawMessage `json:"instance"`
}

type wireTomb struct {
	ID    string `json:"id"`
	Stamp int64  `json:"stamp"`
	Dirty int64  `json:"dirty,omitempty"`
}

type wireApp struct {
	Name       string         `json:"name"`
	Instances  []wireInstance `json:"instances"`
	Tombstones []wireTomb     `json:"tombstones,omitempty"`
	Part       bool           `json:"part,omitempty"`
}

// Exchange is the body of an exchange request or answer: application
// states and, in an answer, what the answering node merged.
type Exchange struct {
	Apps []AppState
	MergeStats
}

type wireExchange struct {
	Apps      []wireApp `json:"apps"`
	Adopted   int       `json:"adopted,omitempty"`
	Cancelled int       `json:"cancelled,omitempty"`
}

// EncodeExchange writes an Exchange.
func EncodeExchange(x Exchange) []byte {
	w := wireExchange{Apps: make([]wireApp, len(x.Apps)), Adopted: x.Adopted, Cancelled: x.Cancelled}
	for i, a := range x.Apps {
		wa := wireApp{Name: a.Name, Instances: make([]wireInstance, len(a.Instances)), Part: a.Part}
		for j, is := range a.Instances {
			wa.Instances[j] = wireInstance{Stamp: is.Stamp, Override: is.Override, Instance: eureka.AppendInstanceJSON(nil, is.Instance)}
		}
		for _, t := range a.Tombstones {
			wa.Tombstones = append(wa.Tombstones, wireTomb(t))
		}
		w.Apps[i] = wa
	}
	b, _ := json.Marshal(w)
	return b
}

// DecodeExchange reads what EncodeExchange wrote.
func DecodeExchange(b []byte) (Exchange, error) {
	var w wireExchange
	if err := json.Unmarshal(b, &w); err != nil {
		return Exchange{}, fmt.Errorf("exchange: %w", err)
	}
	x := Exchange{Apps: make([]AppState, len(w.Apps)), MergeStats: MergeStats{Adopted: w.Adopted, Cancelled: w.Cancelled}}
	for i, wa := range w.Apps {
		a := AppState{Name: wa.Name, Instances: make([]InstanceState, 0, len(wa.Instances)), Part: wa.Part}
		for _, wi := range wa.Instances {
			in, err := eureka.DecodeInstanceJSON(wi.Instance)
			if err != nil {
				return Exchange{}, fmt.Errorf("exchange: %s: %w", wa.Name, err)
			}
			a.Instances = append(a.Instances, InstanceState{Instance: in, Override: wi.Override, Stamp: wi.Stamp})
		}
		for _, t := range wa.Tombstones {
			a.Tombstones = append(a.Tombstones, Tombstone(t))
		}
		x.Apps[i] = a
	}
	return x, nil
}
