// Package client is the Go client of the NovaCron HTTP API. The CLI and the tests
// use it; it also defines the API's JSON shapes (types*.go), which the server encodes.
package client
