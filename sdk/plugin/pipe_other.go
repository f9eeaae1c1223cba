//go:build !unix

package plugin

import (
	"errors"
	"fmt"
	"os"
)

// socketPair reports that this system has no batch pipe: batches go over
// gRPC.
func socketPair() (host, child *os.File, err error) {
	return nil, nil, fmt.Errorf("plugin: batch pipe: %w", errors.ErrUnsupported)
}

func shutdown(*os.File) {}

func adoptPipe(int) *os.File { return nil }
