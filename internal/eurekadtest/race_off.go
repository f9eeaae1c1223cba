//go:build !race

package eurekadtest

// raceEnabled is true when this binary was built with -race: the server
// is then built with -race too.
const raceEnabled = false
