package plugin

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	goplugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/eurekad/eurekad/sdk/eureka"
	"github.com/eurekad/eurekad/sdk/hook"
	pb "github.com/eurekad/eurekad/sdk/plugin/internal/pluginpb"
	"github.com/eurekad/eurekad/sdk/storage"
)

// grpcPlugin joins the adapters to go-plugin: srv is set on the plugin
// side, nil on the host side.
type grpcPlugin struct {
	goplugin.NetRPCUnsupportedPlugin
	srv *server
}

func (p *grpcPlugin) GRPCServer(_ *goplugin.GRPCBroker, s *grpc.Server) error {
	if p.srv == nil {
		return errors.New("plugin: nothing to serve")
	}
	p.srv.register(s)
	return nil
}

func (p *grpcPlugin) GRPCClient(ctx context.Context, _ *goplugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return NewClient(ctx, c), nil
}

// scanChunk is how many records one Scan or Snapshot message carries.
const scanChunk = 256

// server serves one plugin's values; the store exists once Configure has
// opened it.
type server struct {
	opts ServeOptions

	mu    sync.RWMutex
	store storage.Store
	// piped is true while the batch pipe from eurekad is served.
	piped atomic.Bool
}

func newServer(opts ServeOptions) *server { return &server{opts: opts} }

func (s *server) register(g *grpc.Server) {
	pb.RegisterPluginServer(g, infoServer{s: s})
	if s.opts.Store != nil {
		pb.RegisterStoreServer(g, storeServer{s: s})
	}
	if s.opts.Authenticator != nil {
		pb.RegisterAuthenticatorServer(g, authServer{a: s.opts.Authenticator})
	}
	if s.opts.Listener != nil {
		pb.RegisterListenerServer(g, listenerServer{l: s.opts.Listener})
	}
	if s.opts.Admitter != nil {
		pb.RegisterAdmitterServer(g, admitServer{a: s.opts.Admitter})
	}
	if s.opts.Checker != nil {
		pb.RegisterCheckerServer(g, checkServer{c: s.opts.Checker})
	}
}

func (s *server) kinds() []Kind {
	var k []Kind
	if s.opts.Store != nil {
		k = append(k, KindStorage)
	}
	if s.opts.Authenticator != nil {
		k = append(k, KindAuth)
	}
	if s.opts.Listener != nil {
		k = append(k, KindListener)
	}
	if s.opts.Admitter != nil {
		k = append(k, KindAdmission)
	}
	if s.opts.Checker != nil {
		k = append(k, KindChecker)
	}
	return k
}

func (s *server) openStore() (storage.Store, error) {
	s.mu.RLock()
	st := s.store
	s.mu.RUnlock()
	if st == nil {
		return nil, fmt.Errorf("plugin %s: store not configured: %w", s.opts.Name, storage.ErrClosed)
	}
	return st, nil
}

// ---- Info and Configure ----

type infoServer struct {
	pb.UnimplementedPluginServer
	s *server
}

func (i infoServer) Info(context.Context, *pb.Empty) (*pb.InfoResponse, error) {
	r := &pb.InfoResponse{Name: i.s.opts.Name, Version: i.s.opts.Version}
	for _, k := range i.s.kinds() {
		r.Kinds = append(r.Kinds, string(k))
	}
	i.s.mu.RLock()
	if st := i.s.store; st != nil {
		_, r.Batcher = st.(storage.Batcher)
		_, r.Snapshotter = st.(storage.Snapshotter)
		r.BatchPipe = r.Batcher && i.s.piped.Load()
	}
	i.s.mu.RUnlock()
	if t, ok := i.s.opts.Listener.(interface{ Types() []hook.EventType }); ok {
		for _, e := range t.Types() {
			r.EventTypes = append(r.EventTypes, string(e))
		}
	}
	return r, nil
}

func (i infoServer) Configure(ctx context.Context, req *pb.ConfigureRequest) (*pb.Empty, error) {
	cfg := req.GetConfig()
	if len(cfg) == 0 {
		cfg = []byte("{}")
	}
	// The plugin's own contract, whatever the host checked: it configures
	// only what Info reports it serves.
	o, kind := i.s.opts, Kind(req.GetKind())
	if !slices.Contains(i.s.kinds(), kind) {
		return nil, pb.ToStatus(fmt.Errorf("plugin %s does not serve %q: %w", o.Name, kind, errors.ErrUnsupported))
	}
	var err error
	switch kind {
	case KindStorage:
		var st storage.Store
		if st, err = o.Store(ctx, cfg); err == nil {
			i.s.mu.Lock()
			old := i.s.store
			i.s.store = st
			i.s.mu.Unlock()
			if old != nil {
				old.Close()
			}
		}
	case KindAuth:
		err = configure(ctx, o.Authenticator, cfg)
	case KindListener:
		err = configure(ctx, o.Listener, cfg)
	case KindAdmission:
		err = configure(ctx, o.Admitter, cfg)
	case KindChecker:
		err = configure(ctx, o.Checker, cfg)
	}
	return &pb.Empty{}, pb.ToStatus(err)
}

func configure(ctx context.Context, v any, cfg []byte) error {
	if c, ok := v.(hook.Configurer); ok {
		return c.Configure(ctx, cfg)
	}
	return nil
}

// ---- storage ----

type storeServer struct {
	pb.UnimplementedStoreServer
	s *server
}

func (ss storeServer) Put(ctx context.Context, r *pb.Record) (*pb.Empty, error) {
	st, err := ss.s.openStore()
	if err == nil {
		err = st.Put(ctx, recordFromPB(r))
	}
	return &pb.Empty{}, pb.ToStatus(err)
}

func (ss storeServer) Get(ctx context.Context, k *pb.Key) (*pb.Record, error) {
	st, err := ss.s.openStore()
	if err != nil {
		return nil, pb.ToStatus(err)
	}
	r, err := st.Get(ctx, storage.Key{App: k.GetApp(), ID: k.GetId()})
	if err != nil {
		return nil, pb.ToStatus(err)
	}
	return recordToPB(r), nil
}

func (ss storeServer) Delete(ctx context.Context, k *pb.Key) (*pb.Empty, error) {
	st, err := ss.s.openStore()
	if err == nil {
		err = st.Delete(ctx, storage.Key{App: k.GetApp(), ID: k.GetId()})
	}
	return &pb.Empty{}, pb.ToStatus(err)
}

func (ss storeServer) Scan(req *pb.ScanRequest, stream grpc.ServerStreamingServer[pb.Records]) error {
	st, err := ss.s.openStore()
	if err != nil {
		return pb.ToStatus(err)
	}
	ctx := stream.Context()
	return pb.ToStatus(streamRecords(stream, func(fn func(storage.Record) error) error {
		return st.Scan(ctx, req.GetApp(), fn)
	}))
}

func (ss storeServer) Snapshot(_ *pb.Empty, stream grpc.ServerStreamingServer[pb.Records]) error {
	st, err := ss.s.openStore()
	if err != nil {
		return pb.ToStatus(err)
	}
	sn, ok := st.(storage.Snapshotter)
	if !ok {
		return pb.ToStatus(fmt.Errorf("plugin %s: snapshot: %w", ss.s.opts.Name, errors.ErrUnsupported))
	}
	ctx := stream.Context()
	return pb.ToStatus(streamRecords(stream, func(fn func(storage.Record) error) error {
		return sn.Snapshot(ctx, fn)
	}))
}

// streamRecords sends what walk visits in chunks of scanChunk records.
func streamRecords(stream grpc.ServerStreamingServer[pb.Records], walk func(func(storage.Record) error) error) error {
	msg := &pb.Records{Records: make([]*pb.Record, 0, scanChunk)}
	err := walk(func(r storage.Record) error {
		msg.Records = append(msg.Records, recordToPB(r))
		if len(msg.Records) < scanChunk {
			return nil
		}
		err := stream.Send(msg)
		msg.Records = msg.Records[:0]
		return err
	})
	if err == nil && len(msg.Records) > 0 {
		err = stream.Send(msg)
	}
	return err
}

func (ss storeServer) Batch(ctx context.Context, req *pb.BatchRequest) (*pb.Empty, error) {
	if err := ss.s.batch(ctx, req); err != nil {
		return nil, pb.ToStatus(err)
	}
	return &pb.Empty{}, nil
}

// batch applies a batch, from gRPC or the batch pipe.
func (s *server) batch(ctx context.Context, req *pb.BatchRequest) error {
	st, err := s.openStore()
	if err != nil {
		return err
	}
	b, ok := st.(storage.Batcher)
	if !ok {
		return fmt.Errorf("plugin %s: batch: %w", s.opts.Name, errors.ErrUnsupported)
	}
	ops := make([]storage.Op, len(req.GetOps()))
	for i, op := range req.GetOps() {
		ops[i] = storage.Op{Delete: op.GetDelete(), Record: recordFromPB(op.GetRecord())}
	}
	return b.Batch(ctx, ops)
}

func (ss storeServer) Close(context.Context, *pb.Empty) (*pb.Empty, error) {
	ss.s.mu.RLock()
	st := ss.s.store
	ss.s.mu.RUnlock()
	if st == nil {
		return &pb.Empty{}, nil
	}
	return &pb.Empty{}, pb.ToStatus(st.Close())
}

func recordToPB(r storage.Record) *pb.Record {
	return &pb.Record{Key: &pb.Key{App: r.Key.App, Id: r.Key.ID}, Value: r.Value, Updated: r.Updated}
}

func recordFromPB(r *pb.Record) storage.Record {
	return storage.Record{
		Key:     storage.Key{App: r.GetKey().GetApp(), ID: r.GetKey().GetId()},
		Value:   r.GetValue(),
		Updated: r.GetUpdated(),
	}
}

// ---- auth ----

type authServer struct {
	pb.UnimplementedAuthenticatorServer
	a hook.Authenticator
}

func (as authServer) Authenticate(ctx context.Context, r *pb.AuthRequest) (*pb.Principal, error) {
	req := &hook.AuthRequest{
		Operation:   hook.Operation(r.GetOperation()),
		App:         r.GetApp(),
		Instance:    r.GetInstance(),
		Method:      r.GetMethod(),
		Path:        r.GetPath(),
		RemoteAddr:  r.GetRemoteAddr(),
		Username:    r.GetUsername(),
		Password:    r.GetPassword(),
		BearerToken: r.GetBearerToken(),
		Namespace:   r.GetNamespace(),
	}
	req.TLS = tlsFromPB(r.GetTls())
	p, err := as.a.Authenticate(ctx, req)
	if err != nil {
		return nil, pb.ToStatus(err)
	}
	return &pb.Principal{Name: p.Name, Attributes: p.Attributes}, nil
}

func tlsFromPB(t *pb.TLSIdentity) *hook.TLSIdentity {
	if t == nil {
		return nil
	}
	return &hook.TLSIdentity{
		Subject: t.GetSubject(), CommonName: t.GetCommonName(),
		DNSNames: t.GetDnsNames(), URIs: t.GetUris(), SHA256: t.GetSha256(),
	}
}

// ---- admission ----

type admitServer struct {
	pb.UnimplementedAdmitterServer
	a hook.Admitter
}

func (as admitServer) Admit(ctx context.Context, r *pb.AdmissionRequest) (*pb.AdmissionResponse, error) {
	req := &hook.AdmissionRequest{
		Operation:  hook.Operation(r.GetOperation()),
		App:        r.GetApp(),
		InstanceID: r.GetInstanceId(),
		Status:     eureka.Status(r.GetStatus()),
		Metadata:   r.GetMetadata(),
		Principal:  hook.Principal{Name: r.GetPrincipal().GetName(), Attributes: r.GetPrincipal().GetAttributes()},
		RemoteAddr: r.GetRemoteAddr(),
		TLS:        tlsFromPB(r.GetTls()),
		Namespace:  r.GetNamespace(),
	}
	if b := r.GetInstance(); len(b) > 0 {
		in, err := eureka.DecodeInstanceJSON(b)
		if err != nil {
			return nil, pb.ToStatus(fmt.Errorf("plugin: admission of %s/%s: %w", req.App, req.InstanceID, err))
		}
		req.Instance = in
	}
	resp, err := as.a.Admit(ctx, req)
	if err != nil {
		return nil, pb.ToStatus(err)
	}
	// A proto string must be UTF-8: a message is for people, so its bad
	// bytes are replaced rather than failing the decision.
	return &pb.AdmissionResponse{Allowed: resp.Allowed, Message: strings.ToValidUTF8(resp.Message, "\uFFFD"), Metadata: resp.Metadata}, nil
}

// ---- checker ----

type checkServer struct {
	pb.UnimplementedCheckerServer
	c hook.Checker
}

func (cs checkServer) Check(ctx context.Context, r *pb.CheckRequest) (*pb.CheckResponse, error) {
	req := &hook.CheckRequest{
		App:        r.GetApp(),
		InstanceID: r.GetInstanceId(),
		Kind:       r.GetKind(),
		Target:     r.GetTarget(),
		Timeout:    time.Duration(r.GetTimeoutNanos()),
		ExpectMin:  int(r.GetExpectMin()),
		ExpectMax:  int(r.GetExpectMax()),
		Params:     r.GetParams(),
	}
	if b := r.GetInstance(); len(b) > 0 {
		in, err := eureka.DecodeInstanceJSON(b)
		if err != nil {
			return nil, pb.ToStatus(fmt.Errorf("plugin: check of %s/%s: %w", req.App, req.InstanceID, err))
		}
		req.Instance = in
	}
	res, err := cs.c.Check(ctx, req)
	if err != nil {
		return nil, pb.ToStatus(err)
	}
	// A detail often quotes a target's raw bytes; a proto string must be
	// UTF-8, and the verdict must not be lost for it.
	return &pb.CheckResponse{Passing: res.Passing, Detail: strings.ToValidUTF8(res.Detail, "\uFFFD")}, nil
}

// ---- listener ----

type listenerServer struct {
	pb.UnimplementedListenerServer
	l hook.Listener
}

func (ls listenerServer) Handle(ctx context.Context, req *pb.Events) (*pb.Empty, error) {
	events := make([]hook.Event, len(req.GetEvents()))
	for i, e := range req.GetEvents() {
		ev := hook.Event{
			Seq:        e.GetSeq(),
			Type:       hook.EventType(e.GetType()),
			Time:       time.Unix(0, e.GetTimeUnixNano()),
			App:        e.GetApp(),
			InstanceID: e.GetInstanceId(),
			Replicated: e.GetReplicated(),
			Dropped:    e.GetDropped(),
			Namespace:  e.GetNamespace(),
		}
		if b := e.GetInstance(); len(b) > 0 {
			in, err := eureka.DecodeInstanceJSON(b)
			if err != nil {
				return nil, pb.ToStatus(fmt.Errorf("plugin: event %d: %w", e.GetSeq(), err))
			}
			ev.Instance = in
		}
		events[i] = ev
	}
	return &pb.Empty{}, pb.ToStatus(ls.l.Handle(ctx, events))
}

// maxMessage bounds one gRPC message either way: a store batch or a chunk of
// a scan must fit (gRPC's default of 4 MiB is too small for a large batch).
const maxMessage = 256 << 20

// window is gRPC's flow-control window per stream and per connection. The
// default (64 KiB, grown by probing) makes a listener batch or a store
// batch of a few hundred KiB wait for window updates, a round trip each,
// on a connection that is local and has no reason to throttle.
const window = 8 << 20

// newGRPCServer is go-plugin's gRPC server with eurekad's message limits
// and windows.
func newGRPCServer(opts []grpc.ServerOption) *grpc.Server {
	return grpc.NewServer(append(opts,
		grpc.MaxRecvMsgSize(maxMessage), grpc.MaxSendMsgSize(maxMessage),
		grpc.InitialWindowSize(window), grpc.InitialConnWindowSize(window))...)
}

// DialOptions are the gRPC options the host needs to talk to a plugin
// (go-plugin's ClientConfig.GRPCDialOptions).
func DialOptions() []grpc.DialOption {
	return []grpc.DialOption{
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(maxMessage), grpc.MaxCallSendMsgSize(maxMessage)),
		grpc.WithInitialWindowSize(window), grpc.WithInitialConnWindowSize(window),
	}
}
