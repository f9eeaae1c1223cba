package plugin

import (
	"context"
	"errors"
	"fmt"
	"io"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/eurekad/eurekad/sdk/eureka"
	"github.com/eurekad/eurekad/sdk/hook"
	pb "github.com/eurekad/eurekad/sdk/plugin/internal/pluginpb"
	"github.com/eurekad/eurekad/sdk/storage"
)

// Client is the host's side of one plugin connection: Info, Configure and
// the plugin's values as the sdk contracts. It is safe for concurrent use.
type Client struct {
	// life ends when the plugin process exits (go-plugin cancels it); it
	// only tells a broken transport apart, never bounds a call.
	life     context.Context
	info     pb.PluginClient
	store    pb.StoreClient
	auth     pb.AuthenticatorClient
	listener pb.ListenerClient
	admitter pb.AdmitterClient
	checker  pb.CheckerClient
	// pipe is the batch pipe to the plugin process, if it has one.
	pipe *BatchPipe
}

// NewClient returns the client side of a plugin over conn. life is the
// plugin's lifetime: once it ends, failed calls report ErrPluginExited.
func NewClient(life context.Context, conn grpc.ClientConnInterface) *Client {
	return &Client{
		life:     life,
		info:     pb.NewPluginClient(conn),
		store:    pb.NewStoreClient(conn),
		auth:     pb.NewAuthenticatorClient(conn),
		listener: pb.NewListenerClient(conn),
		admitter: pb.NewAdmitterClient(conn),
		checker:  pb.NewCheckerClient(conn),
	}
}

// Done is closed when the plugin process exits (never, for an in-memory
// connection).
func (c *Client) Done() <-chan struct{} { return c.life.Done() }

// err turns an RPC error into the contract's: sentinels keep their
// identity, and a broken transport becomes ErrPluginExited.
func (c *Client) err(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	code := status.Code(err)
	if ctx.Err() == nil && (code == codes.Unavailable || (code == codes.Canceled && c.life.Err() != nil)) {
		return fmt.Errorf("%w: %v", ErrPluginExited, status.Convert(err).Message())
	}
	return pb.FromStatus(err)
}

// UseBatchPipe gives the client the batch pipe its plugin process was
// started with; Store sends batches on it when Info says the plugin serves
// it. Call it before Store.
func (c *Client) UseBatchPipe(bp *BatchPipe) { c.pipe = bp }

// Info asks the plugin what it is and serves.
func (c *Client) Info(ctx context.Context) (Info, error) {
	r, err := c.info.Info(ctx, &pb.Empty{})
	if err != nil {
		return Info{}, c.err(ctx, err)
	}
	info := Info{Name: r.GetName(), Version: r.GetVersion(), Batcher: r.GetBatcher(),
		Snapshotter: r.GetSnapshotter(), BatchPipe: r.GetBatchPipe()}
	for _, k := range r.GetKinds() {
		info.Kinds = append(info.Kinds, Kind(k))
	}
	for _, t := range r.GetEventTypes() {
		info.EventTypes = append(info.EventTypes, hook.EventType(t))
	}
	return info, nil
}

// Configure hands kind's configuration (JSON; nil means "{}") to the
// plugin. For storage it opens the store.
func (c *Client) Configure(ctx context.Context, kind Kind, config []byte) error {
	_, err := c.info.Configure(ctx, &pb.ConfigureRequest{Kind: string(kind), Config: config})
	return c.err(ctx, err)
}

// Store returns the plugin's store, implementing storage.Batcher and
// storage.Snapshotter exactly when info says the plugin's store does.
// Call it after Configure and Info.
func (c *Client) Store(info Info) storage.Store {
	s := &remoteStore{c: c}
	if info.BatchPipe && c.pipe != nil {
		s.pipe = newPipeClient(c.pipe)
	}
	return storage.Restrict(s, info.Batcher, info.Snapshotter)
}

// Authenticator returns the plugin's authenticator.
func (c *Client) Authenticator() hook.Authenticator { return remoteAuth{c} }

// Listener returns the plugin's listener.
func (c *Client) Listener() hook.Listener { return remoteListener{c} }

// Admitter returns the plugin's admitter.
func (c *Client) Admitter() hook.Admitter { return remoteAdmitter{c} }

// Checker returns the plugin's checker.
func (c *Client) Checker() hook.Checker { return remoteChecker{c} }

// ---- storage ----

type remoteStore struct {
	c    *Client
	pipe *pipeClient // nil: batches over gRPC
}

func (s *remoteStore) Put(ctx context.Context, r storage.Record) error {
	_, err := s.c.store.Put(ctx, recordToPB(r))
	return s.c.err(ctx, err)
}

func (s *remoteStore) Get(ctx context.Context, k storage.Key) (storage.Record, error) {
	r, err := s.c.store.Get(ctx, &pb.Key{App: k.App, Id: k.ID})
	if err != nil {
		return storage.Record{}, s.c.err(ctx, err)
	}
	return recordFromPB(r), nil
}

func (s *remoteStore) Delete(ctx context.Context, k storage.Key) error {
	_, err := s.c.store.Delete(ctx, &pb.Key{App: k.App, Id: k.ID})
	return s.c.err(ctx, err)
}

func (s *remoteStore) Scan(ctx context.Context, app string, fn func(storage.Record) error) error {
	return s.receive(ctx, fn, func(ctx context.Context) (grpc.ServerStreamingClient[pb.Records], error) {
		return s.c.store.Scan(ctx, &pb.ScanRequest{App: app})
	})
}

// receive runs a record stream, calling fn per record in this goroutine;
// an error from fn ends the stream (ErrStop with a nil error).
func (s *remoteStore) receive(ctx context.Context, fn func(storage.Record) error,
	open func(context.Context) (grpc.ServerStreamingClient[pb.Records], error)) error {
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := open(sctx)
	if err != nil {
		return s.c.err(ctx, err)
	}
	for {
		msg, err := stream.Recv()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return s.c.err(ctx, err)
		}
		for _, r := range msg.GetRecords() {
			if err := ctx.Err(); err != nil {
				return err // the callback may have cancelled: no call after that
			}
			if err := fn(recordFromPB(r)); err != nil {
				if errors.Is(err, storage.ErrStop) {
					return nil
				}
				return err
			}
		}
	}
}

// Batch sends ops in one call, on the batch pipe if there is one; Client.Store shows it only when the
// plugin's store is a Batcher.
func (s *remoteStore) Batch(ctx context.Context, ops []storage.Op) error {
	if s.pipe != nil {
		if err, used := s.pipe.batch(ctx, ops); used {
			return err
		}
	}
	req := &pb.BatchRequest{Ops: make([]*pb.Op, len(ops))}
	for i, op := range ops {
		req.Ops[i] = &pb.Op{Delete: op.Delete, Record: recordToPB(op.Record)}
	}
	_, err := s.c.store.Batch(ctx, req)
	return s.c.err(ctx, err)
}

// Snapshot streams a snapshot; Client.Store shows it only when the
// plugin's store is a Snapshotter.
func (s *remoteStore) Snapshot(ctx context.Context, fn func(storage.Record) error) error {
	return s.receive(ctx, fn, func(ctx context.Context) (grpc.ServerStreamingClient[pb.Records], error) {
		return s.c.store.Snapshot(ctx, &pb.Empty{})
	})
}

// Close closes the plugin's store (not the plugin process).
func (s *remoteStore) Close() error {
	ctx := context.Background()
	_, err := s.c.store.Close(ctx, &pb.Empty{})
	return s.c.err(ctx, err)
}

// ---- auth ----

type remoteAuth struct{ c *Client }

func (a remoteAuth) Authenticate(ctx context.Context, req *hook.AuthRequest) (hook.Principal, error) {
	r := &pb.AuthRequest{
		Operation:   string(req.Operation),
		App:         req.App,
		Instance:    req.Instance,
		Method:      req.Method,
		Path:        req.Path,
		RemoteAddr:  req.RemoteAddr,
		Username:    req.Username,
		Password:    req.Password,
		BearerToken: req.BearerToken,
		Namespace:   req.Namespace,
	}
	r.Tls = tlsToPB(req.TLS)
	p, err := a.c.auth.Authenticate(ctx, r)
	if err != nil {
		return hook.Principal{}, a.c.err(ctx, err)
	}
	return hook.Principal{Name: p.GetName(), Attributes: p.GetAttributes()}, nil
}

func tlsToPB(t *hook.TLSIdentity) *pb.TLSIdentity {
	if t == nil {
		return nil
	}
	return &pb.TLSIdentity{Subject: t.Subject, CommonName: t.CommonName, DnsNames: t.DNSNames, Uris: t.URIs, Sha256: t.SHA256}
}

// ---- admission ----

type remoteAdmitter struct{ c *Client }

// Admit sends the instance in sdk/eureka's JSON, as events carry it.
func (a remoteAdmitter) Admit(ctx context.Context, req *hook.AdmissionRequest) (hook.AdmissionResponse, error) {
	r := &pb.AdmissionRequest{
		Operation:  string(req.Operation),
		App:        req.App,
		InstanceId: req.InstanceID,
		Status:     string(req.Status),
		Metadata:   req.Metadata,
		Principal:  &pb.Principal{Name: req.Principal.Name, Attributes: req.Principal.Attributes},
		RemoteAddr: req.RemoteAddr,
		Tls:        tlsToPB(req.TLS),
		Namespace:  req.Namespace,
	}
	if req.Instance != nil {
		r.Instance = eureka.AppendInstanceJSON(nil, req.Instance)
	}
	resp, err := a.c.admitter.Admit(ctx, r)
	if err != nil {
		return hook.AdmissionResponse{}, a.c.err(ctx, err)
	}
	return hook.AdmissionResponse{Allowed: resp.GetAllowed(), Message: resp.GetMessage(), Metadata: resp.GetMetadata()}, nil
}

// ---- checker ----

type remoteChecker struct{ c *Client }

// Check sends the instance in sdk/eureka's JSON, as events carry it.
func (ch remoteChecker) Check(ctx context.Context, req *hook.CheckRequest) (hook.CheckResult, error) {
	r := &pb.CheckRequest{
		App:          req.App,
		InstanceId:   req.InstanceID,
		Kind:         req.Kind,
		Target:       req.Target,
		TimeoutNanos: int64(req.Timeout),
		ExpectMin:    int32(req.ExpectMin),
		ExpectMax:    int32(req.ExpectMax),
		Params:       req.Params,
	}
	if req.Instance != nil {
		r.Instance = eureka.AppendInstanceJSON(nil, req.Instance)
	}
	resp, err := ch.c.checker.Check(ctx, r)
	if err != nil {
		return hook.CheckResult{}, ch.c.err(ctx, err)
	}
	return hook.CheckResult{Passing: resp.GetPassing(), Detail: resp.GetDetail()}, nil
}

// ---- listener ----

type remoteListener struct{ c *Client }

// Handle sends the batch in one RPC. The plugin answers once its own Handle
// returned, so OK is its acknowledgement (protocol 1 already carries it):
// a plugin killed mid-batch fails the call, and the bus sends the batch
// again.
func (l remoteListener) Handle(ctx context.Context, events []hook.Event) error {
	req := &pb.Events{Events: make([]*pb.Event, len(events))}
	for i, e := range events {
		pe := &pb.Event{
			Seq:          e.Seq,
			Type:         string(e.Type),
			TimeUnixNano: e.Time.UnixNano(),
			App:          e.App,
			InstanceId:   e.InstanceID,
			Replicated:   e.Replicated,
			Dropped:      e.Dropped,
			Namespace:    e.Namespace,
		}
		if e.Instance != nil {
			pe.Instance = eureka.AppendInstanceJSON(nil, e.Instance)
		}
		req.Events[i] = pe
	}
	_, err := l.c.listener.Handle(ctx, req)
	return l.c.err(ctx, err)
}

// Interface guards.
var (
	_ storage.Full       = (*remoteStore)(nil)
	_ hook.Authenticator = remoteAuth{}
	_ hook.Listener      = remoteListener{}
	_ hook.Admitter      = remoteAdmitter{}
	_ hook.Checker       = remoteChecker{}
)
