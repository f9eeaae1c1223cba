package redis

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/eurekad/eurekad/sdk/storage"
)

// ErrCorrupt is returned (wrapped) by Get, Scan and Snapshot for a stored
// value too short to hold a record's 8-byte timestamp: something other than
// this package wrote the store's keys.
var ErrCorrupt = errors.New("redis: corrupt record")

// scanCount is the COUNT hint of each HSCAN page.
const scanCount = 1000

// snapshotTxAttempts bounds how often Snapshot tries its transaction before
// it falls back to its Lua script (a variable for tests).
var snapshotTxAttempts = 3

// deleteScript removes one field from an application's hash and, when that
// empties the hash, the application from the apps set, atomically.
// KEYS[1] app hash, KEYS[2] apps set; ARGV[1] instance id, ARGV[2] app.
const deleteSrc = `redis.call('HDEL', KEYS[1], ARGV[1])
if redis.call('EXISTS', KEYS[1]) == 0 then
	redis.call('SREM', KEYS[2], ARGV[2])
end
return 0`

// cleanupSrc removes an application from the apps set when its hash is
// empty; a Batch ends with it for every application it deleted from.
// KEYS[1] app hash, KEYS[2] apps set; ARGV[1] app.
const cleanupSrc = `if redis.call('EXISTS', KEYS[1]) == 0 then
	redis.call('SREM', KEYS[2], ARGV[1])
end
return 0`

var deleteScript = goredis.NewScript(deleteSrc)

// Store is a storage.Store in Redis. It is safe for concurrent use. Create it
// with Open and release it with Close.
type Store struct {
	client  goredis.UniversalClient
	log     *slog.Logger
	appsKey string // <prefix>{<tag>}:apps
	appPre  string // <prefix>{<tag>}:app:
	closed  atomic.Bool
}

// Open connects to Redis as opts say, checks the connection with PING and
// returns the store. An unreachable Redis, bad credentials or invalid
// options are an error; ctx bounds the check.
func Open(ctx context.Context, opts Options) (*Store, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	raw := opts
	opts = opts.withDefaults()
	client, where, err := newClient(raw, opts)
	if err != nil {
		return nil, fmt.Errorf("redis: open: %w", err)
	}
	if err := client.Ping(ctx).Err(); err != nil {
		_ = client.Close()
		return nil, pingError(err, opts, where, db(client, opts))
	}
	tag := strings.TrimSuffix(opts.KeyPrefix, ":")
	if tag == "" { // "{}" would be no hash tag at all
		tag = opts.KeyPrefix
	}
	tag = "{" + tag + "}"
	s := &Store{
		client:  client,
		log:     opts.Logger.With("component", "storage.redis"),
		appsKey: opts.KeyPrefix + tag + ":apps",
		appPre:  opts.KeyPrefix + tag + ":app:",
	}
	s.log.Info("redis store open", "mode", opts.mode(), "addr", where, "prefix", opts.KeyPrefix)
	return s, nil
}

// pingError explains a failed first PING. A reply from the server means
// Redis was reached and refused (a database it does not have, a password it
// wants); anything else means it was not reached.
func pingError(err error, opts Options, where string, db int) error {
	var reply goredis.Error
	switch {
	case errors.As(err, &reply) && strings.Contains(err.Error(), "DB index is out of range"):
		return fmt.Errorf("redis: open: the Redis at %s has no database %d (%w): choose a database below its \"databases\" setting (16 unless configured)", where, db, err)
	case errors.As(err, &reply):
		return fmt.Errorf("redis: open: the Redis at %s (%s) refused the connection: %w", where, opts.mode(), err)
	}
	return fmt.Errorf("redis: open: cannot reach Redis (%s %s): %w", opts.mode(), where, err)
}

// db is the database number the client selects.
func db(client goredis.UniversalClient, opts Options) int {
	if c, ok := client.(*goredis.Client); ok {
		return c.Options().DB
	}
	return opts.DB
}

// newClient builds the driver client. raw holds the caller's options (to
// tell a zero field from a default), opts the same with defaults filled in.
// It returns where the client connects, without credentials, for messages.
func newClient(raw, opts Options) (goredis.UniversalClient, string, error) {
	if opts.URL != "" {
		o, err := goredis.ParseURL(opts.URL)
		if err != nil {
			return nil, "", fmt.Errorf("URL: %w", err)
		}
		if raw.Username != "" {
			o.Username = raw.Username
		}
		if raw.Password != "" {
			o.Password = raw.Password
		}
		if raw.DB != 0 {
			o.DB = raw.DB
		}
		if raw.TLS != nil {
			o.TLSConfig = raw.TLS
		}
		// Timeouts: the caller's field, else the URL's query parameter,
		// else our default.
		o.DialTimeout = pick(raw.DialTimeout, o.DialTimeout, opts.DialTimeout)
		o.ReadTimeout = pick(raw.ReadTimeout, o.ReadTimeout, opts.ReadTimeout)
		o.WriteTimeout = pick(raw.WriteTimeout, o.WriteTimeout, opts.WriteTimeout)
		o.MaxRetries = pick(raw.MaxRetries, o.MaxRetries, opts.MaxRetries)
		o.DialerRetries = 1
		o.ContextTimeoutEnabled = true
		return goredis.NewClient(o), o.Addr, nil
	}
	u := &goredis.UniversalOptions{
		Addrs:                 opts.Addrs,
		MasterName:            opts.MasterName,
		IsClusterMode:         opts.Cluster,
		Username:              opts.Username,
		Password:              opts.Password,
		SentinelUsername:      opts.SentinelUsername,
		SentinelPassword:      opts.SentinelPassword,
		DB:                    opts.DB,
		TLSConfig:             opts.TLS,
		DialTimeout:           opts.DialTimeout,
		ReadTimeout:           opts.ReadTimeout,
		WriteTimeout:          opts.WriteTimeout,
		MaxRetries:            opts.MaxRetries,
		DialerRetries:         1,
		ContextTimeoutEnabled: true,
	}
	where := strings.Join(opts.Addrs, ",")
	if opts.MasterName != "" {
		where += " master " + opts.MasterName
	}
	return goredis.NewUniversalClient(u), where, nil
}

func pick[T comparable](choices ...T) T {
	var zero T
	for _, c := range choices {
		if c != zero {
			return c
		}
	}
	return zero
}

func (s *Store) appKey(app string) string { return s.appPre + app }

// Put stores r, replacing any record with the same key.
func (s *Store) Put(ctx context.Context, r storage.Record) error {
	if err := s.check(ctx); err != nil {
		return s.fail(ctx, "put", r.Key.Excerpt(), err)
	}
	_, err := s.client.TxPipelined(ctx, func(p goredis.Pipeliner) error {
		s.queuePut(ctx, p, r)
		return nil
	})
	if err != nil {
		return s.fail(ctx, "put", r.Key.Excerpt(), err)
	}
	return nil
}

func (s *Store) queuePut(ctx context.Context, p goredis.Pipeliner, r storage.Record) {
	p.HSet(ctx, s.appKey(r.Key.App), r.Key.ID, encode(r))
	p.SAdd(ctx, s.appsKey, r.Key.App)
}

// Get returns the record with key k, or an error matching
// storage.ErrNotFound.
func (s *Store) Get(ctx context.Context, k storage.Key) (storage.Record, error) {
	if err := s.check(ctx); err != nil {
		return storage.Record{}, s.fail(ctx, "get", k.Excerpt(), err)
	}
	v, err := s.client.HGet(ctx, s.appKey(k.App), k.ID).Result()
	if err != nil {
		return storage.Record{}, s.fail(ctx, "get", k.Excerpt(), err)
	}
	r, err := decode(k, v)
	if err != nil {
		return storage.Record{}, s.fail(ctx, "get", k.Excerpt(), err)
	}
	return r, nil
}

// Delete removes the record with key k, and its application from the apps
// set when it was the last one; a missing key is not an error.
func (s *Store) Delete(ctx context.Context, k storage.Key) error {
	if err := s.check(ctx); err != nil {
		return s.fail(ctx, "delete", k.Excerpt(), err)
	}
	err := deleteScript.Run(ctx, s.client, []string{s.appKey(k.App), s.appsKey}, k.ID, k.App).Err()
	if err != nil {
		return s.fail(ctx, "delete", k.Excerpt(), err)
	}
	return nil
}

// Batch applies ops in order in one MULTI/EXEC transaction: Redis runs all
// of them or, if the transaction is refused (out of memory, a lost
// connection before EXEC), none of them, and no other client sees a state
// in between. As with any remote write, an error does not prove that
// nothing was applied (the reply can be lost after Redis ran EXEC); applying
// the same batch again is harmless. (Redis does not roll back a transaction
// in which a command fails at run time, as on a key of the wrong type; only
// a foreign writer on the store's keys could cause that.)
func (s *Store) Batch(ctx context.Context, ops []storage.Op) error {
	what := fmt.Sprintf("of %d", len(ops))
	if err := s.check(ctx); err != nil {
		return s.fail(ctx, "batch", what, err)
	}
	if len(ops) == 0 {
		return nil
	}
	_, err := s.client.TxPipelined(ctx, func(p goredis.Pipeliner) error {
		var deleted map[string]struct{}
		for _, op := range ops {
			k := op.Record.Key
			if !op.Delete {
				s.queuePut(ctx, p, op.Record)
				continue
			}
			p.HDel(ctx, s.appKey(k.App), k.ID)
			if deleted == nil {
				deleted = make(map[string]struct{})
			}
			deleted[k.App] = struct{}{}
		}
		// EVAL, not EVALSHA: inside MULTI a NOSCRIPT (after a Redis restart)
		// could not be retried. Redis caches the script by its hash anyway.
		for app := range deleted {
			p.Eval(ctx, cleanupSrc, []string{s.appKey(app), s.appsKey}, app)
		}
		return nil
	})
	if err != nil {
		return s.fail(ctx, "batch", what, err)
	}
	return nil
}

// Scan calls fn for every record, or for those of app when it is not empty,
// in no particular order, walking each application's hash with HSCAN.
func (s *Store) Scan(ctx context.Context, app string, fn func(storage.Record) error) error {
	what := app
	if what == "" {
		what = "all"
	}
	if err := s.check(ctx); err != nil {
		return s.fail(ctx, "scan", what, err)
	}
	apps := []string{app}
	if app == "" {
		var err error
		if apps, err = s.client.SMembers(ctx, s.appsKey).Result(); err != nil {
			return s.fail(ctx, "scan", what, err)
		}
	}
	for _, a := range apps {
		if err := s.scanApp(ctx, a, fn); err != nil {
			if errors.Is(err, storage.ErrStop) {
				return nil
			}
			return err
		}
	}
	return nil
}

func (s *Store) scanApp(ctx context.Context, app string, fn func(storage.Record) error) error {
	key := s.appKey(app)
	// HSCAN returns an element more than once if the hash is resized
	// between two pages; a scan of more than one page remembers the ids it
	// has passed on.
	var seen map[string]struct{}
	var cursor uint64
	for page := 0; ; page++ {
		if err := s.check(ctx); err != nil {
			return s.fail(ctx, "scan", app, err)
		}
		kv, next, err := s.client.HScan(ctx, key, cursor, "", scanCount).Result()
		if err != nil {
			return s.fail(ctx, "scan", app, err)
		}
		if page == 0 && next != 0 {
			seen = make(map[string]struct{}, 2*len(kv))
		}
		for i := 0; i+1 < len(kv); i += 2 {
			id := kv[i]
			if seen != nil {
				if _, dup := seen[id]; dup {
					continue
				}
				seen[id] = struct{}{}
			}
			r, err := decode(storage.Key{App: app, ID: id}, kv[i+1])
			if err != nil {
				return s.fail(ctx, "scan", storage.Key{App: app, ID: id}.Excerpt(), err)
			}
			if err := ctx.Err(); err != nil {
				return s.fail(ctx, "scan", app, err)
			}
			if err := fn(r); err != nil {
				return err
			}
		}
		if next == 0 {
			return nil
		}
		cursor = next
	}
}

// Snapshot calls fn for every record as of one point in time. It reads the
// apps set and every application's hash with HGETALL in one MULTI/EXEC,
// retried if an application appeared between its reading the set and the
// transaction; should applications keep appearing it falls back to a Lua
// script that reads everything in one step. Redis serves no other client
// while either runs, and the whole store is held in memory before fn is
// called: meant for backups.
func (s *Store) Snapshot(ctx context.Context, fn func(storage.Record) error) error {
	if err := s.check(ctx); err != nil {
		return s.fail(ctx, "snapshot", "", err)
	}
	apps, err := s.client.SMembers(ctx, s.appsKey).Result()
	if err != nil {
		return s.fail(ctx, "snapshot", "", err)
	}
	var snap []appRecords
	for attempt := 0; ; attempt++ {
		if attempt == snapshotTxAttempts {
			snap, err = s.snapshotScript(ctx)
			break
		}
		var ok bool
		if snap, apps, ok, err = s.snapshotTx(ctx, apps); err != nil || ok {
			break
		}
	}
	if err != nil {
		return s.fail(ctx, "snapshot", "", err)
	}
	for _, a := range snap {
		for i := 0; i+1 < len(a.fields); i += 2 {
			k := storage.Key{App: a.app, ID: a.fields[i]}
			r, err := decode(k, a.fields[i+1])
			if err != nil {
				return s.fail(ctx, "snapshot", k.Excerpt(), err)
			}
			if err := ctx.Err(); err != nil {
				return s.fail(ctx, "snapshot", "", err)
			}
			if err := fn(r); err != nil {
				if errors.Is(err, storage.ErrStop) {
					return nil
				}
				return err
			}
		}
	}
	return nil
}

// appRecords is one application's hash in a snapshot: id, value, id, ...
type appRecords struct {
	app    string
	fields []string
}

// snapshotTx reads the apps set and the hashes of apps in one transaction.
// ok is false when the set read inside the transaction names an application
// not in apps; the caller retries with now, that set.
func (s *Store) snapshotTx(ctx context.Context, apps []string) (snap []appRecords, now []string, ok bool, err error) {
	var members *goredis.StringSliceCmd
	hashes := make([]*goredis.MapStringStringCmd, len(apps))
	_, err = s.client.TxPipelined(ctx, func(p goredis.Pipeliner) error {
		members = p.SMembers(ctx, s.appsKey)
		for i, a := range apps {
			hashes[i] = p.HGetAll(ctx, s.appKey(a))
		}
		return nil
	})
	if err != nil {
		return nil, nil, false, err
	}
	if newApps(apps, members.Val()) {
		return nil, members.Val(), false, nil
	}
	snap = make([]appRecords, 0, len(apps))
	for i, a := range apps {
		m := hashes[i].Val()
		fields := make([]string, 0, 2*len(m))
		for id, v := range m {
			fields = append(fields, id, v)
		}
		snap = append(snap, appRecords{app: a, fields: fields})
	}
	return snap, nil, true, nil
}

// snapshotSrc returns every application and its hash: app, {id, value, ...},
// app, ... It reads keys it derives from ARGV[1] (the hash key prefix); they
// share the apps set's Cluster slot through the store's hash tag.
const snapshotSrc = `local out = {}
for _, app in ipairs(redis.call('SMEMBERS', KEYS[1])) do
	out[#out+1] = app
	out[#out+1] = redis.call('HGETALL', ARGV[1] .. app)
end
return out`

var snapshotScript = goredis.NewScript(snapshotSrc)

func (s *Store) snapshotScript(ctx context.Context) ([]appRecords, error) {
	v, err := snapshotScript.Run(ctx, s.client, []string{s.appsKey}, s.appPre).Slice()
	if err != nil {
		return nil, err
	}
	snap := make([]appRecords, 0, len(v)/2)
	for i := 0; i+1 < len(v); i += 2 {
		app, ok1 := v[i].(string)
		hv, ok2 := v[i+1].([]any)
		if !ok1 || !ok2 {
			return nil, fmt.Errorf("unexpected snapshot script reply element %T, %T", v[i], v[i+1])
		}
		fields := make([]string, len(hv))
		for j, f := range hv {
			if fields[j], ok1 = f.(string); !ok1 {
				return nil, fmt.Errorf("unexpected snapshot script reply field %T", f)
			}
		}
		snap = append(snap, appRecords{app: app, fields: fields})
	}
	return snap, nil
}

// newApps reports whether now holds a name that was not in before.
func newApps(before, now []string) bool {
	if len(now) == 0 {
		return false
	}
	had := make(map[string]struct{}, len(before))
	for _, a := range before {
		had[a] = struct{}{}
	}
	for _, a := range now {
		if _, ok := had[a]; !ok {
			return true
		}
	}
	return false
}

// Close closes the connections. Every later call returns an error matching
// storage.ErrClosed; Close may be called more than once.
func (s *Store) Close() error {
	if !s.closed.CompareAndSwap(false, true) {
		return nil
	}
	s.log.Info("redis store closed")
	if err := s.client.Close(); err != nil && !errors.Is(err, goredis.ErrClosed) {
		return fmt.Errorf("redis: close: %w", err)
	}
	return nil
}

// check returns the error a call must end with before it starts.
func (s *Store) check(ctx context.Context) error {
	if s.closed.Load() {
		return storage.ErrClosed
	}
	return ctx.Err()
}

// fail wraps err for operation op on what, mapping the driver's errors to
// the contract's: a missing field to storage.ErrNotFound, a closed client to
// storage.ErrClosed, anything after the context ended to the context's
// error.
func (s *Store) fail(ctx context.Context, op, what string, err error) error {
	switch {
	case errors.Is(err, storage.ErrClosed), errors.Is(err, storage.ErrNotFound), errors.Is(err, ErrCorrupt):
	case errors.Is(err, goredis.Nil):
		err = storage.ErrNotFound
	case s.closed.Load() || errors.Is(err, goredis.ErrClosed):
		err = storage.ErrClosed
	default:
		if cerr := ctxErr(ctx); cerr != nil && !errors.Is(err, cerr) {
			err = fmt.Errorf("%w (%v)", cerr, err)
		}
	}
	if what == "" {
		return fmt.Errorf("redis: %s: %w", op, err)
	}
	return fmt.Errorf("redis: %s %s: %w", op, what, err)
}

// ctxErr is ctx.Err(), and DeadlineExceeded already when the deadline has
// passed: the driver's socket deadline (set from the context's) can fire a
// moment before the context's own timer.
func ctxErr(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if d, ok := ctx.Deadline(); ok && !time.Now().Before(d) {
		return context.DeadlineExceeded
	}
	return nil
}

// encode lays out a record as its hash field value: 8 bytes of Updated,
// big-endian, then Value.
func encode(r storage.Record) []byte {
	b := make([]byte, 8+len(r.Value))
	binary.BigEndian.PutUint64(b, uint64(r.Updated))
	copy(b[8:], r.Value)
	return b
}

// decode reads a hash field value written by encode. The returned Value is
// a fresh slice.
func decode(k storage.Key, v string) (storage.Record, error) {
	if len(v) < 8 {
		return storage.Record{}, fmt.Errorf("%w: %d bytes, want at least 8", ErrCorrupt, len(v))
	}
	var updated uint64
	for i := range 8 {
		updated = updated<<8 | uint64(v[i])
	}
	return storage.Record{Key: k, Value: []byte(v[8:]), Updated: int64(updated)}, nil
}

// Interface guards.
var (
	_ storage.Store       = (*Store)(nil)
	_ storage.Batcher     = (*Store)(nil)
	_ storage.Snapshotter = (*Store)(nil)
)
