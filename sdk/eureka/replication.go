package eureka

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
)

// ReplicationAction is the action of one peer replication item, spelled as
// Eureka's PeerEurekaNode writes it (case-sensitive).
type ReplicationAction string

// The actions of POST peerreplication/batch (docs/protocol.md §8.4).
const (
	ReplicateRegister             ReplicationAction = "Register"
	ReplicateHeartbeat            ReplicationAction = "Heartbeat"
	ReplicateCancel               ReplicationAction = "Cancel"
	ReplicateStatusUpdate         ReplicationAction = "StatusUpdate"
	ReplicateDeleteStatusOverride ReplicationAction = "DeleteStatusOverride"
)

// Known reports whether a is one of the five actions Eureka defines.
func (a ReplicationAction) Known() bool {
	switch a {
	case ReplicateRegister, ReplicateHeartbeat, ReplicateCancel, ReplicateStatusUpdate, ReplicateDeleteStatusOverride:
		return true
	}
	return false
}

// ReplicationItem is one entry of a replicationList (Eureka's
// ReplicationInstance). Zero values mean absent: they are not written, and
// a decoded item leaves them zero when the peer sent null or nothing.
type ReplicationItem struct {
	AppName string
	ID      string
	// LastDirtyTimestamp is the source's lastDirtyTimestamp (epoch ms).
	LastDirtyTimestamp int64
	// OverriddenStatus is sent with Heartbeat only, when the source holds
	// an override for the instance.
	OverriddenStatus Status
	Status           Status
	// Instance is the full instance; Register only.
	Instance *InstanceInfo
	Action   ReplicationAction
}

// ReplicationResult is one entry of a responseList (Eureka's
// ReplicationInstanceResponse), in the order of the request's items.
type ReplicationResult struct {
	StatusCode int
	// Entity is the receiver's newer copy, sent with a Heartbeat's 409.
	Entity *InstanceInfo
}

// AppendReplicationListJSON appends {"replicationList":[…]} with the
// members of each item in Eureka's creator order (appName, id,
// lastDirtyTimestamp, overriddenStatus, status, instanceInfo, action),
// absent ones left out, lastDirtyTimestamp as a JSON number and
// instanceInfo unwrapped.
func AppendReplicationListJSON(dst []byte, items []ReplicationItem) []byte {
	dst = append(dst, `{"replicationList":[`...)
	for i := range items {
		it := &items[i]
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"appName":`...)
		dst = appendJSONString(dst, it.AppName)
		dst = append(dst, `,"id":`...)
		dst = appendJSONString(dst, it.ID)
		if it.LastDirtyTimestamp != 0 {
			dst = append(dst, `,"lastDirtyTimestamp":`...)
			dst = strconv.AppendInt(dst, it.LastDirtyTimestamp, 10)
		}
		dst = appendJSONOptional(dst, `,"overriddenStatus":`, string(it.OverriddenStatus))
		dst = appendJSONOptional(dst, `,"status":`, string(it.Status))
		if it.Instance != nil {
			dst = append(dst, `,"instanceInfo":`...)
			dst = AppendInstanceJSON(dst, it.Instance)
		}
		dst = append(dst, `,"action":`...)
		dst = appendJSONString(dst, string(it.Action))
		dst = append(dst, '}')
	}
	return append(dst, "]}"...)
}

// AppendReplicationResponseJSON appends {"responseList":[…]}: each result
// as {"statusCode":N} plus "responseEntity" (the unwrapped instance) when
// it carries one.
func AppendReplicationResponseJSON(dst []byte, results []ReplicationResult) []byte {
	dst = append(dst, `{"responseList":[`...)
	for i := range results {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"statusCode":`...)
		dst = strconv.AppendInt(dst, int64(results[i].StatusCode), 10)
		if results[i].Entity != nil {
			dst = append(dst, `,"responseEntity":`...)
			dst = AppendInstanceJSON(dst, results[i].Entity)
		}
		dst = append(dst, '}')
	}
	return append(dst, "]}"...)
}

// Wire shapes for encoding/json; numbers and statuses are kept raw so the
// lenient rules of §3.8 (numbers as strings, statuses in any case, nulls)
// apply.
type jsonReplicationList struct {
	ReplicationList []jsonReplicationItem `json:"replicationList"`
}

type jsonReplicationItem struct {
	// appName and id are kept raw and unquoted by rawText, which refuses
	// what encoding/json would rewrite (see ErrInvalidUTF8).
	AppName            json.RawMessage `json:"appName"`
	ID                 json.RawMessage `json:"id"`
	LastDirtyTimestamp json.RawMessage `json:"lastDirtyTimestamp"`
	OverriddenStatus   *string         `json:"overriddenStatus"`
	Status             *string         `json:"status"`
	InstanceInfo       json.RawMessage `json:"instanceInfo"`
	Action             *string         `json:"action"`
}

type jsonResponseList struct {
	ResponseList []jsonResult `json:"responseList"`
}

type jsonResult struct {
	StatusCode     json.RawMessage `json:"statusCode"`
	ResponseEntity json.RawMessage `json:"responseEntity"`
}

// DecodeReplicationListJSON decodes a peerreplication/batch request body
// as the Java server and eurekad write it. It accepts lastDirtyTimestamp as
// a number or a numeric string, statuses in any case (unknown ones become
// UNKNOWN), explicit nulls and unknown members, and instanceInfo wrapped or
// bare (decoded as a register body, §3.8). It fails, with an error matching
// ErrMalformed, when the document is not an object with a replicationList
// array, an item is not an object, a value has the wrong type, or an
// instanceInfo cannot be decoded. Actions are returned as sent; callers
// check Known.
func DecodeReplicationListJSON(data []byte) ([]ReplicationItem, error) {
	body, err := jsonObjectBody(data)
	if err != nil {
		return nil, malformed("replication list JSON", err)
	}
	var doc jsonReplicationList
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, malformed("replication list JSON", err)
	}
	items := make([]ReplicationItem, len(doc.ReplicationList))
	for i := range doc.ReplicationList {
		j := &doc.ReplicationList[i]
		it := &items[i]
		if it.AppName, err = rawText(j.AppName); err != nil {
			return nil, malformed("replication list JSON", fmt.Errorf("item %d: appName: %w", i, err))
		}
		if it.ID, err = rawText(j.ID); err != nil {
			return nil, malformed("replication list JSON", fmt.Errorf("item %d: id: %w", i, err))
		}
		it.Action = ReplicationAction(deref(j.Action))
		if j.OverriddenStatus != nil {
			it.OverriddenStatus = ParseStatusLenient(*j.OverriddenStatus)
		}
		if j.Status != nil {
			it.Status = ParseStatusLenient(*j.Status)
		}
		if it.LastDirtyTimestamp, err = rawInt(j.LastDirtyTimestamp); err != nil {
			return nil, malformed("replication list JSON", fmt.Errorf("item %d: lastDirtyTimestamp: %w", i, err))
		}
		if len(j.InstanceInfo) > 0 && !isJSONNull(j.InstanceInfo) {
			if it.Instance, err = DecodeInstanceJSON(j.InstanceInfo); err != nil {
				return nil, fmt.Errorf("item %d: instanceInfo: %w", i, err)
			}
		}
	}
	return items, nil
}

// DecodeReplicationResponseJSON decodes a peerreplication/batch response
// body. statusCode must be a number (or numeric string); responseEntity,
// when present, is decoded as an instance (wrapped or bare).
func DecodeReplicationResponseJSON(data []byte) ([]ReplicationResult, error) {
	if res, ok := allOK(data); ok {
		return res, nil
	}
	body, err := jsonObjectBody(data)
	if err != nil {
		return nil, malformed("replication response JSON", err)
	}
	var doc jsonResponseList
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, malformed("replication response JSON", err)
	}
	out := make([]ReplicationResult, len(doc.ResponseList))
	for i := range doc.ResponseList {
		j := &doc.ResponseList[i]
		code, err := rawInt(j.StatusCode)
		if err != nil || code < 100 || code > 999 {
			if err == nil {
				err = fmt.Errorf("%d is not an HTTP status", code)
			}
			return nil, malformed("replication response JSON", fmt.Errorf("item %d: statusCode: %w", i, err))
		}
		out[i].StatusCode = int(code)
		if len(j.ResponseEntity) > 0 && !isJSONNull(j.ResponseEntity) {
			if out[i].Entity, err = DecodeInstanceJSON(j.ResponseEntity); err != nil {
				return nil, fmt.Errorf("item %d: responseEntity: %w", i, err)
			}
		}
	}
	return out, nil
}

// allOK recognises the common answer, every item 200 as eurekad and the
// Java server write it without spaces, in one pass without reflection; ok
// is false for anything else, which the full decoder then reads.
func allOK(data []byte) ([]ReplicationResult, bool) {
	const head, item, tail = `{"responseList":[`, `{"statusCode":200}`, `]}`
	rest, ok := bytes.CutPrefix(data, []byte(head))
	if !ok {
		return nil, false
	}
	rest, ok = bytes.CutSuffix(rest, []byte(tail))
	if !ok {
		return nil, false
	}
	n := 0
	for len(rest) > 0 {
		if n > 0 {
			if rest[0] != ',' {
				return nil, false
			}
			rest = rest[1:]
		}
		if rest, ok = bytes.CutPrefix(rest, []byte(item)); !ok {
			return nil, false
		}
		n++
	}
	res := make([]ReplicationResult, n)
	for i := range res {
		res[i].StatusCode = 200
	}
	return res, true
}

// rawText reads a JSON string member as encoding/json reads it into a
// *string (absent and null are ""), except that text that is not UTF-8
// fails with ErrInvalidUTF8 instead of becoming U+FFFD.
func rawText(raw json.RawMessage) (string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || isJSONNull(raw) {
		return "", nil
	}
	if raw[0] != '"' {
		return "", errors.New("expected a string")
	}
	// encoding/json has checked the syntax: raw is one whole string.
	s := raw[1 : len(raw)-1]
	if !validJSONText(s) {
		return "", ErrInvalidUTF8
	}
	if bytes.IndexByte(s, '\\') < 0 {
		return string(s), nil
	}
	return string(appendUnquoted(nil, s)), nil
}

// rawInt reads a JSON number or numeric string as an int64; absent, null
// and "" are 0.
func rawInt(raw json.RawMessage) (int64, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || isJSONNull(raw) {
		return 0, nil
	}
	if raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return 0, err
		}
		v, ok, err := parseIntText(s, 64)
		if !ok || err != nil {
			if err == nil {
				return 0, nil
			}
			return 0, err
		}
		return v, nil
	}
	if raw[0] != '-' && !isDigit(raw[0]) {
		return 0, errors.New("expected a number, got " + string(raw[:min(len(raw), 20)]))
	}
	v, _, err := parseIntText(string(raw), 64)
	return v, err
}
