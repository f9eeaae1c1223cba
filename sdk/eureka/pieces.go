package eureka

// An applications document (the full registry, a delta) can be written in
// parts: a head, one item per application, a tail. The parts concatenated
// are byte for byte what AppendApplicationsJSON or AppendApplicationsXML
// write for the same values, because those encoders are built from the same
// parts. A cache can therefore keep each application's item and re-encode
// only the applications that changed.

// AppendApplicationsHeadJSON appends the start of AppendApplicationsJSON's
// document, up to and including the "[" that opens the application list.
func AppendApplicationsHeadJSON(dst []byte, versionsDelta int64, hashcode string) []byte {
	dst = append(dst, `{"applications":`...)
	return appendApplicationsHeadJSON(dst, versionsDelta, hashcode)
}

// AppendApplicationsItemJSON appends app as an element of the application
// list: preceded by a comma unless it is the list's first element.
func AppendApplicationsItemJSON(dst []byte, app *Application, first bool) []byte {
	return appendApplicationsItemJSON(dst, app, first, nil)
}

// AppendApplicationsTailJSON appends what closes the document.
func AppendApplicationsTailJSON(dst []byte) []byte {
	return append(dst, "]}}"...)
}

// AppendApplicationsHeadXML appends the start of AppendApplicationsXML's
// document: <applications> with versions__delta and apps__hashcode.
func AppendApplicationsHeadXML(dst []byte, versionsDelta int64, hashcode string) []byte {
	return prettyXML.applicationsHead(dst, versionsDelta, hashcode, 0)
}

// AppendApplicationsItemXML appends app as one <application> of the
// document, with the line break and indentation before it.
func AppendApplicationsItemXML(dst []byte, app *Application) []byte {
	return prettyXML.applicationsItem(dst, app, 0)
}

// AppendApplicationsTailXML appends what closes the document.
func AppendApplicationsTailXML(dst []byte) []byte {
	return prettyXML.applicationsTail(dst, 0)
}

// An application item can itself be written in parts: an opening with
// its name, one part per instance, a closing. A delta keeps each changed
// instance's part and joins them, so a change costs encoding one instance.
// The parts concatenated are byte for byte AppendApplicationsItemJSON's or
// AppendApplicationsItemXML's output.

// AppendApplicationOpenJSON appends the start of an application item, up
// to and including the "[" that opens its instance list; first is as for
// AppendApplicationsItemJSON.
func AppendApplicationOpenJSON(dst []byte, name string, first bool) []byte {
	if !first {
		dst = append(dst, ',')
	}
	dst = append(dst, `{"name":`...)
	dst = appendJSONString(dst, name)
	return append(dst, `,"instance":[`...)
}

// AppendApplicationInstanceJSON appends in as an element of the instance
// list: preceded by a comma unless it is the list's first element.
func AppendApplicationInstanceJSON(dst []byte, in *InstanceInfo, first bool) []byte {
	if !first {
		dst = append(dst, ',')
	}
	return AppendInstanceJSON(dst, in)
}

// AppendApplicationCloseJSON appends what closes an application item.
func AppendApplicationCloseJSON(dst []byte) []byte { return append(dst, "]}"...) }

// AppendApplicationOpenXML appends the start of an application item: the
// line break before it, <application> and its name.
func AppendApplicationOpenXML(dst []byte, name string) []byte {
	dst = prettyXML.nl(dst, 1)
	dst = append(dst, "<application>"...)
	return prettyXML.leaf(dst, 2, "name", name)
}

// AppendApplicationInstanceXML appends in as one <instance> of an
// application item, with the line break and indentation before it.
func AppendApplicationInstanceXML(dst []byte, in *InstanceInfo) []byte {
	dst = prettyXML.nl(dst, 2)
	return prettyXML.instance(dst, in, 2)
}

// AppendApplicationCloseXML appends what closes an application item.
func AppendApplicationCloseXML(dst []byte) []byte {
	dst = prettyXML.nl(dst, 1)
	return append(dst, "</application>"...)
}

// Merge adds the counts of o to c, so a hash code can be kept per
// application and summed.
func (c *StatusCounts) Merge(o StatusCounts) {
	for i, n := range o.n {
		c.n[i] += n
	}
}

// Unmerge takes the counts of o, merged before, out of c: a total kept
// across changes then costs one application's counts per change.
func (c *StatusCounts) Unmerge(o StatusCounts) {
	for i, n := range o.n {
		c.n[i] -= n
	}
}
