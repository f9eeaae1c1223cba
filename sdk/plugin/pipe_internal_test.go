//go:build unix

package plugin

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/eurekad/eurekad/sdk/storage"
)

func testPipe(t *testing.T) (*pipeClient, *BatchPipe) {
	t.Helper()
	bp, err := NewBatchPipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		bp.Close()
		if bp.child != nil {
			bp.child.Close()
		}
	})
	return newPipeClient(bp), bp
}

var oneOp = []storage.Op{{Record: storage.Record{Key: storage.Key{App: "A", ID: "1"}, Value: []byte("v")}}}

// A plugin that ends the pipe after reading a batch may have stored it:
// the caller hears ErrPluginExited (and retries), the batch is not sent
// again over gRPC behind its back.
func TestPipeEndedAfterTheBatchLeft(t *testing.T) {
	pc, bp := testPipe(t)
	plugin := bp.child
	bp.child = nil
	go func() {
		var head [4]byte
		io.ReadFull(plugin, head[:])
		io.ReadFull(plugin, make([]byte, binary.BigEndian.Uint32(head[:])))
		plugin.Close()
	}()
	err, used := pc.batch(context.Background(), oneOp)
	if !used || !errors.Is(err, ErrPluginExited) {
		t.Fatalf("batch = %v, used %v; want ErrPluginExited on the pipe", err, used)
	}
	if err, used := pc.batch(context.Background(), oneOp); used {
		t.Errorf("the next batch used the ended pipe: %v", err)
	}
	if bp.Open() {
		t.Error("an ended pipe reports itself open")
	}
	if err := bp.Close(); err != nil {
		t.Errorf("Close after the pipe broke = %v", err) // closed once, by the failed batch
	}
}

// A pipe whose plugin end is gone before the batch is written hands the
// batch to gRPC.
func TestPipeEndedBeforeTheBatch(t *testing.T) {
	pc, bp := testPipe(t)
	bp.child.Close()
	bp.child = nil
	if err, used := pc.batch(context.Background(), oneOp); used {
		t.Fatalf("batch on a pipe without a reader = %v, used; want it handed to gRPC", err)
	}
}

// A caller waiting for the pipe behind a stuck batch gives up with its
// context.
func TestPipeWaitHonoursContext(t *testing.T) {
	pc, bp := testPipe(t)
	first := make(chan error, 1)
	go func() {
		err, _ := pc.batch(context.Background(), oneOp) // no one answers
		first <- err
	}()
	var head [4]byte
	if _, err := io.ReadFull(bp.child, head[:]); err != nil { // the first batch holds the pipe
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		err, _ := pc.batch(ctx, oneOp)
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("waiting batch = %v, want its deadline", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a waiting batch ignored its context")
	}
	bp.Close() // wakes the first
	select {
	case <-first:
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not wake a batch blocked on the pipe")
	}
}

// A batch on the pipe allocates nothing on the host once its buffers have
// grown: it runs once per commit.
func TestPipeBatchAllocates(t *testing.T) {
	pc, bp := testPipe(t)
	plugin := bp.child
	bp.child = nil
	go func() { // answers every request as stored
		defer plugin.Close()
		var head [4]byte
		body := make([]byte, 1<<16)
		for {
			if _, err := io.ReadFull(plugin, head[:]); err != nil {
				return
			}
			if _, err := io.ReadFull(plugin, body[:binary.BigEndian.Uint32(head[:])]); err != nil {
				return
			}
			if _, err := plugin.Write(answerOK); err != nil {
				return
			}
		}
	}()
	ops := make([]storage.Op, 20)
	for i := range ops {
		ops[i] = storage.Op{Record: storage.Record{Key: storage.Key{App: "APP", ID: fmt.Sprint(i)}, Value: []byte("value"), Updated: 1}}
	}
	ctx := context.Background()
	if err, used := pc.batch(ctx, ops); err != nil || !used {
		t.Fatalf("batch = %v, used %v", err, used)
	}
	if n := testing.AllocsPerRun(50, func() { pc.batch(ctx, ops) }); n > 0 {
		t.Errorf("a batch allocates %.0f times", n)
	}
}
