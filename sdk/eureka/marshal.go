package eureka

import (
	"bytes"
	"encoding/xml"
	"io"
)

// The standard-library hooks below let the wire types sit inside other
// encoding/json and encoding/xml payloads (a replication batch item holds
// an unwrapped instanceInfo). They delegate to the Append and Decode
// functions, so the bytes and the leniency are the same. JSON always uses
// the unwrapped object; the decoders also accept the wrapped form.

// MarshalJSON writes the unwrapped instance object (as AppendInstanceJSON).
func (i *InstanceInfo) MarshalJSON() ([]byte, error) {
	return AppendInstanceJSON(nil, i), nil
}

// UnmarshalJSON reads an instance object, wrapped or not, as
// DecodeInstanceJSON does; null leaves i unchanged.
func (i *InstanceInfo) UnmarshalJSON(b []byte) error {
	if isJSONNull(b) {
		return nil
	}
	v, err := DecodeInstanceJSON(b)
	if err != nil {
		return err
	}
	*i = *v
	return nil
}

// MarshalJSON writes the unwrapped {"name":…,"instance":[…]} object.
func (a *Application) MarshalJSON() ([]byte, error) {
	return appendApplicationObjectJSON(nil, a, nil), nil
}

// UnmarshalJSON reads an application object, wrapped or not, as
// DecodeApplicationJSON does; null leaves a unchanged.
func (a *Application) UnmarshalJSON(b []byte) error {
	if isJSONNull(b) {
		return nil
	}
	v, err := DecodeApplicationJSON(b)
	if err != nil {
		return err
	}
	*a = *v
	return nil
}

// MarshalJSON writes the unwrapped {"versions__delta":…} object.
func (a *Applications) MarshalJSON() ([]byte, error) {
	return appendApplicationsObjectJSON(nil, a, nil), nil
}

// UnmarshalJSON reads an applications object, wrapped or not, as
// DecodeApplicationsJSON does; null leaves a unchanged.
func (a *Applications) UnmarshalJSON(b []byte) error {
	if isJSONNull(b) {
		return nil
	}
	v, err := DecodeApplicationsJSON(b)
	if err != nil {
		return err
	}
	*a = *v
	return nil
}

func isJSONNull(b []byte) bool {
	return string(trimJSONSpace(b)) == "null"
}

// MarshalXML writes the instance's children under start, or under
// <instance> when start is unnamed or named after the Go type (as for a
// top-level xml.Marshal). Indentation is left to e.
func (i *InstanceInfo) MarshalXML(e *xml.Encoder, start xml.StartElement) error {
	return reencodeXML(e, start, "InstanceInfo", "instance", xmlOut{}.instance(nil, i, 0))
}

// UnmarshalXML reads an instance element of any name, as DecodeInstanceXML.
func (i *InstanceInfo) UnmarshalXML(d *xml.Decoder, start xml.StartElement) error {
	var x xmlInstance
	if err := d.DecodeElement(&x, &start); err != nil {
		return malformed("instance XML", err)
	}
	v, err := x.instance()
	if err != nil {
		return malformed("instance XML", err)
	}
	*i = *v
	return nil
}

// MarshalXML writes the application under start, or under <application>
// (see InstanceInfo.MarshalXML).
func (a *Application) MarshalXML(e *xml.Encoder, start xml.StartElement) error {
	return reencodeXML(e, start, "Application", "application", xmlOut{}.application(nil, a, 0))
}

// UnmarshalXML reads an application element of any name.
func (a *Application) UnmarshalXML(d *xml.Decoder, start xml.StartElement) error {
	var x xmlApplication
	if err := d.DecodeElement(&x, &start); err != nil {
		return malformed("application XML", err)
	}
	v, err := x.application()
	if err != nil {
		return malformed("application XML", err)
	}
	*a = *v
	return nil
}

// MarshalXML writes the applications under start, or under <applications>
// (see InstanceInfo.MarshalXML).
func (a *Applications) MarshalXML(e *xml.Encoder, start xml.StartElement) error {
	return reencodeXML(e, start, "Applications", "applications", xmlOut{}.applications(nil, a, 0))
}

// UnmarshalXML reads an applications element of any name.
func (a *Applications) UnmarshalXML(d *xml.Decoder, start xml.StartElement) error {
	var x xmlApplications
	if err := d.DecodeElement(&x, &start); err != nil {
		return malformed("applications XML", err)
	}
	v, err := x.applications()
	if err != nil {
		return malformed("applications XML", err)
	}
	*a = *v
	return nil
}

// reencodeXML replays the compact document doc as tokens into e, renaming
// the root to start's name unless that is empty or the Go type name.
// Going through tokens keeps one XML writer (the fast one) and lets e
// apply its own indentation.
func reencodeXML(e *xml.Encoder, start xml.StartElement, typeName, defName string, doc []byte) error {
	root := xml.Name{Local: defName}
	if start.Name.Local != "" && start.Name.Local != typeName {
		root = start.Name
	}
	d := xml.NewDecoder(bytes.NewReader(doc))
	depth := 0
	for {
		tok, err := d.RawToken()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if depth == 0 {
				t.Name = root
				t.Attr = append(t.Attr, start.Attr...)
			}
			depth++
			tok = t
		case xml.EndElement:
			depth--
			if depth == 0 {
				t.Name = root
			}
			tok = t
		}
		if err := e.EncodeToken(tok); err != nil {
			return err
		}
	}
}
