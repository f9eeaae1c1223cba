// Package dashboard holds eurekad's operator dashboard: plain HTML, CSS and
// JavaScript embedded in the binary, with no build step. The page reads
// only the admin JSON API (docs/admin-api.md) and follows its event stream
// for live updates. It imports only the standard library.
package dashboard

import (
	"embed"
	"io/fs"
	"net/http"
)

//go:embed static
var static embed.FS

// Assets returns the dashboard's files: index.html, app.css and app.js.
func Assets() fs.FS {
	sub, err := fs.Sub(static, "static")
	if err != nil {
		panic(err) // the directory is embedded above
	}
	return sub
}

// Handler serves the assets (app.js, app.css) under prefix.
func Handler(prefix string) http.Handler {
	files := http.StripPrefix(prefix, http.FileServerFS(Assets()))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-cache")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		files.ServeHTTP(w, r)
	})
}

// Page serves index.html, for / and /lastn alike: the script picks the view
// from the location. Its content security policy allows only this origin's
// script, style and connections.
func Page(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'")
	http.ServeFileFS(w, r, Assets(), "index.html")
}
