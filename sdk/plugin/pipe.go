package plugin

// The batch pipe.
//
// A store batch is the one plugin call a writer waits for: a registration
// in sync durability is answered when its group's batch is stored. Over
// gRPC that call passes through five goroutines (the caller, the
// transport's writer and reader on both sides, the handler), and on a busy
// eurekad each hand-off waits in the Go run queue behind the HTTP handlers.
// Measured with 64 writers on two cores, the isolated bolt store spent
// 0.53 ms on a batch and eurekad waited 1.8 ms for the answer.
//
// So eurekad hands a store plugin it starts one end of a socket pair (an
// inherited descriptor named by the environment variable pipeFDEnv) and
// sends batches on it: the flusher writes the request and blocks in read(2)
// until the plugin answers, as it blocks in fdatasync(2) with an in-process
// store; in the plugin one goroutine reads a request, applies it and writes
// the answer. A request is the .proto's BatchRequest and an answer a
// google.rpc.Status (empty for success), each behind a 4-byte big-endian
// length. Nothing else uses the pipe, nobody else holds it (a socket pair
// has no address to connect to, unlike go-plugin's socket, which needs
// mTLS), and a plugin that does not report BatchPipe in its Info, such as
// one built with an older SDK, gets its batches over gRPC.

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	pb "github.com/eurekad/eurekad/sdk/plugin/internal/pluginpb"
	"github.com/eurekad/eurekad/sdk/storage"
)

// pipeFDEnv names the plugin's descriptor of the batch pipe.
const pipeFDEnv = "EUREKAD_PLUGIN_BATCH_FD"

// BatchPipe is the host's side of a batch pipe to one plugin process,
// before and after the process starts: Attach it to the command, call
// Started once the process runs, hand it to the Client (UseBatchPipe) and
// Close it when the process is done with.
type BatchPipe struct {
	host, child *os.File
	closeOnce   sync.Once
	closeErr    error
	closed      atomic.Bool
}

// NewBatchPipe returns a new pipe, or an error wrapping
// errors.ErrUnsupported where the system has no socket pairs (Windows):
// batches then go over gRPC.
func NewBatchPipe() (*BatchPipe, error) {
	host, child, err := socketPair()
	if err != nil {
		return nil, err
	}
	return &BatchPipe{host: host, child: child}, nil
}

// Attach makes cmd's process inherit the plugin's end and tells it which
// descriptor that is. Call it before the command starts.
func (bp *BatchPipe) Attach(cmd *exec.Cmd) {
	fd := 3 + len(cmd.ExtraFiles)
	cmd.ExtraFiles = append(cmd.ExtraFiles, bp.child)
	cmd.Env = append(cmd.Env, pipeFDEnv+"="+strconv.Itoa(fd))
}

// Started closes this process's copy of the plugin's end, once the plugin
// process holds its own: the plugin's exit then ends the pipe.
func (bp *BatchPipe) Started() {
	if bp.child != nil {
		bp.child.Close()
		bp.child = nil
	}
}

// Close ends the pipe, waking a batch blocked on it. Only the first call
// does anything.
func (bp *BatchPipe) Close() error {
	bp.closeOnce.Do(func() {
		bp.closed.Store(true)
		bp.Started()
		shutdown(bp.host)
		bp.closeErr = bp.host.Close()
	})
	return bp.closeErr
}

// Open reports whether batches can still travel on the pipe: false once it
// broke (batches then go over gRPC) or was closed.
func (bp *BatchPipe) Open() bool { return !bp.closed.Load() }

// pipeClient sends batches on the host's end, one at a time. Once the pipe
// fails (the plugin exited, or a caller's context ended mid-batch) it is
// closed for good and later batches go over gRPC, which reports an exited
// plugin as such.
type pipeClient struct {
	bp *BatchPipe

	// turn is held by the batch on the pipe (a channel, so a waiting
	// caller can give up); it guards the fields below, which are reused
	// from batch to batch so that a commit allocates nothing here.
	turn chan struct{}
	req  pb.BatchRequest
	ops  []*pb.Op // each with its Record and Key
	buf  []byte
	head [4]byte
}

func newPipeClient(bp *BatchPipe) *pipeClient {
	return &pipeClient{bp: bp, turn: make(chan struct{}, 1)}
}

// batch sends ops and waits for the answer; used false means the pipe is
// broken and the caller should send the batch over gRPC.
func (pc *pipeClient) batch(ctx context.Context, ops []storage.Op) (err error, used bool) {
	select {
	case pc.turn <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err(), true
	}
	defer func() { <-pc.turn }()
	if !pc.bp.Open() {
		return nil, false
	}
	if err := ctx.Err(); err != nil {
		return err, true
	}
	for i, op := range ops {
		if i == len(pc.ops) {
			pc.ops = append(pc.ops, &pb.Op{Record: &pb.Record{Key: &pb.Key{}}})
		}
		o := pc.ops[i]
		o.Delete = op.Delete
		o.Record.Key.App, o.Record.Key.Id = op.Record.Key.App, op.Record.Key.ID
		o.Record.Value, o.Record.Updated = op.Record.Value, op.Record.Updated
	}
	pc.req.Ops = pc.ops[:len(ops)]
	pc.buf, err = proto.MarshalOptions{}.MarshalAppend(append(pc.buf[:0], 0, 0, 0, 0), &pc.req)
	for _, o := range pc.req.Ops { // they alias the caller's keys and values
		o.Record.Key.App, o.Record.Key.Id, o.Record.Value = "", "", nil
	}
	if err != nil {
		return fmt.Errorf("plugin: batch pipe: %w", err), true
	}
	if len(pc.buf)-4 > maxMessage {
		return fmt.Errorf("plugin: batch of %d bytes is larger than %d", len(pc.buf)-4, maxMessage), true
	}
	binary.BigEndian.PutUint32(pc.buf, uint32(len(pc.buf)-4))
	if ctx.Done() != nil {
		stop := context.AfterFunc(ctx, func() { shutdown(pc.bp.host) })
		defer func() {
			if !stop() {
				pc.bp.Close() // shut down, perhaps after the answer came
			}
		}()
	}
	answer, sent, err := pc.exchange()
	if cap(pc.buf) > maxKeptBuffer {
		pc.buf = nil
	}
	if err == nil {
		return answer, true
	}
	pc.bp.Close()
	switch {
	case ctx.Err() != nil:
		return ctx.Err(), true
	case !sent:
		// The plugin exited (gRPC then says so) or ended the pipe
		// before the batch left: it goes over gRPC, as later ones will.
		return nil, false
	default:
		// The plugin may be applying it still: sending it again over
		// gRPC could land it after a later batch. The caller retries.
		return fmt.Errorf("%w: batch pipe: %v (the batch may or may not be stored)", ErrPluginExited, err), true
	}
}

// maxKeptBuffer is the largest request buffer kept between batches.
const maxKeptBuffer = 4 << 20

// exchange writes the request in pc.buf and reads the answer: the
// plugin's error, or an I/O error; sent says whether any of the request
// left.
func (pc *pipeClient) exchange() (answer error, sent bool, err error) {
	f := pc.bp.host
	if n, err := f.Write(pc.buf); err != nil {
		return nil, n > 0, err
	}
	if _, err := io.ReadFull(f, pc.head[:]); err != nil {
		return nil, true, err
	}
	n := binary.BigEndian.Uint32(pc.head[:])
	if n == 0 {
		return nil, true, nil
	}
	if n > maxMessage {
		return nil, true, fmt.Errorf("answer of %d bytes", n)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(f, body); err != nil {
		return nil, true, err
	}
	var st spb.Status
	if err := proto.Unmarshal(body, &st); err != nil {
		return nil, true, fmt.Errorf("answer: %w", err)
	}
	return pb.FromStatus(status.ErrorProto(&st)), true, nil
}

// startPipe serves the batch pipe f from a new goroutine.
func (s *server) startPipe(f *os.File) {
	s.piped.Store(true)
	go s.servePipe(f)
}

// servePipe answers batches on the plugin's end until the pipe ends (the
// host closed it or exited). A request that cannot be read as one ends the
// pipe: the host then sends its batches over gRPC.
func (s *server) servePipe(f *os.File) {
	defer func() {
		s.piped.Store(false)
		f.Close()
	}()
	var head [4]byte
	var body []byte
	var req pb.BatchRequest
	for {
		if _, err := io.ReadFull(f, head[:]); err != nil {
			return
		}
		n := binary.BigEndian.Uint32(head[:])
		if n > maxMessage {
			return
		}
		if cap(body) < int(n) {
			body = make([]byte, n)
		}
		body = body[:n]
		if _, err := io.ReadFull(f, body); err != nil {
			return
		}
		err := proto.Unmarshal(body, &req)
		if err == nil {
			err = s.batch(context.Background(), &req)
		}
		if cap(body) > maxKeptBuffer {
			body = nil
		}
		if _, err := f.Write(encodeAnswer(err)); err != nil {
			return
		}
	}
}

// answerOK is the answer of a stored batch (never written to).
var answerOK = []byte{0, 0, 0, 0}

// encodeAnswer is the pipe's answer for err: a length and, for an error,
// its status.
func encodeAnswer(err error) []byte {
	if err == nil {
		return answerOK
	}
	st := status.Convert(pb.ToStatus(err)).Proto()
	st.Message = strings.ToValidUTF8(st.Message, "\uFFFD") // a proto string must be UTF-8
	b, _ := proto.MarshalOptions{}.MarshalAppend([]byte{0, 0, 0, 0}, st)
	binary.BigEndian.PutUint32(b, uint32(len(b)-4))
	return b
}

// inherited is the batch pipe eurekad handed this process, taken at
// initialisation, before main can start a child that would inherit it;
// nil when there is none. Serve serves it.
var inherited = inheritedPipe()

// inheritedPipe returns the batch pipe named by pipeFDEnv in a process
// eurekad started as a plugin (its handshake cookie set), close-on-exec
// from now on. The variable is removed in any process, eurekad's own
// included, so no child is handed a descriptor it does not hold.
func inheritedPipe() *os.File {
	v, ok := os.LookupEnv(pipeFDEnv)
	if !ok {
		return nil
	}
	os.Unsetenv(pipeFDEnv)
	if os.Getenv(Handshake.MagicCookieKey) != Handshake.MagicCookieValue {
		return nil // not a plugin of eurekad's: whatever the descriptor is, it is not ours
	}
	fd, err := strconv.Atoi(v)
	if err != nil || fd < 3 {
		return nil
	}
	return adoptPipe(fd)
}
