// Command gen writes api/openapi/openapi.json, the API described, from the
// route table and the Go wire types (go generate in api/openapi runs it).
package main

import (
	"fmt"
	"os"

	"github.com/novacron/novacron/api/openapi/internal/build"
)

func main() {
	out := "openapi.json"
	if len(os.Args) > 1 {
		out = os.Args[1]
	}
	doc, err := build.Document()
	if err == nil {
		err = os.WriteFile(out, doc, 0o644)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}
