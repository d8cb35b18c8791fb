package main

import (
	"html/template"
	"net/http"
	"sort"
	"strings"
)

// wikiApp is the app behind admit's reverse proxy: it knows nobody itself
// and reads who arrived from the headers admit sets (see "Forward-auth and
// the reverse proxy" in the README).
func wikiApp() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var headers []header
		for name, values := range r.Header {
			if strings.HasPrefix(name, "X-Admit-") {
				v := strings.Join(values, ", ")
				if name == "X-Admit-Jwt" {
					v = v[:min(len(v), 24)] + "…"
				}
				headers = append(headers, header{name, v})
			}
		}
		sort.Slice(headers, func(i, j int) bool { return headers[i].Name < headers[j].Name })
		writePage(w, http.StatusOK, wikiPage, map[string]any{"Headers": headers,
			"Greeting": "Welcome to the wiki, " + r.Header.Get("X-Admit-Name") + " (" + r.Header.Get("X-Admit-Role") + ")"})
	})
}

type header struct{ Name, Value string }

var wikiPage = template.Must(template.New("wiki").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Acme wiki</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body style="font-family: system-ui, sans-serif; max-width: 48rem; margin: 3rem auto">
<h1 id="greeting">{{.Greeting}}</h1>
<p>This wiki is one of the platform's apps, behind admit's reverse proxy. admit told it who arrived:</p>
<table>{{range .Headers}}<tr><th style="text-align: left; padding-right: 1rem">{{.Name}}</th><td><code>{{.Value}}</code></td></tr>{{end}}</table>
</body></html>`))

func writePage(w http.ResponseWriter, status int, t *template.Template, data any) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_ = t.Execute(w, data)
}
