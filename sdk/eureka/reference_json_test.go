package eureka

import "encoding/json"

// referenceDecodeInstanceJSON is DecodeInstanceJSON as it was before the
// hand-written decoder replaced it: encoding/json reflection over the
// jsonInstance value types (json_decode.go, json_scan.go). It is kept,
// unchanged apart from its name, as the specification the differential
// fuzz target (FuzzDecodeInstanceJSONDifferential) checks the new decoder
// against.
func referenceDecodeInstanceJSON(data []byte) (*InstanceInfo, error) {
	data, err := jsonObjectBody(data)
	if err != nil {
		return nil, malformed("instance JSON", err)
	}
	var root struct {
		Instance *jsonInstance `json:"instance"`
		jsonInstance
	}
	if err := json.Unmarshal(data, &root); err != nil {
		return nil, malformed("instance JSON", err)
	}
	j := &root.jsonInstance
	if root.Instance != nil {
		j = root.Instance
	}
	in, err := j.instance()
	if err != nil {
		return nil, malformed("instance JSON", err)
	}
	return in, nil
}
