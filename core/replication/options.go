package replication

import (
	"log/slog"
	"time"

	"github.com/eurekad/eurekad/internal/tlsconf"
)

// Options configures a Cluster. Start from DefaultOptions.
type Options struct {
	// Peers are the base URLs of the other servers, such as
	// http://eureka-2:8761/eureka/. The node's own URL may be listed; it is
	// recognised and skipped. Credentials in a URL become basic auth.
	Peers []string `config:"peers" flag:"peers" help:"base URLs of the peer servers, comma-separated (own URL is skipped); user:password@ in a URL is basic auth"`
	// SelfURL is this server's own base URL as peers list it. When empty, a
	// peer URL is this server when its host is a local address or name and
	// its port is the listen port.
	SelfURL string `config:"self_url" flag:"self-url" help:"this server's own base URL as it appears in the peer list (empty: match host and port)"`
	// Username and Password are sent as basic auth to peers whose URL
	// carries no credentials.
	Username string `config:"username" help:"basic-auth user for peers whose URL has no credentials"`
	Password string `config:"password" help:"basic-auth password for peers whose URL has no credentials"`
	// BatchSize caps the items of one batch (Eureka: 250).
	BatchSize int `config:"batch_size" help:"most items in one replication batch"`
	// BatchInterval is the shortest time between two batches to a peer
	// that are not full. A change to an idle peer leaves at once; changes
	// gather while a batch is in flight and until BatchInterval after it
	// left, so a busy pipe sends fewer, larger batches (0: they gather
	// only while one is in flight).
	BatchInterval time.Duration `config:"batch_interval" help:"shortest time between two replication batches to a peer that are not full (a change to an idle peer leaves at once)"`
	// MaxBatchDelay is how long a change waits for others to join its
	// batch even when the pipe is idle. Zero (the default) sends it at
	// once; Eureka waits 500 ms.
	MaxBatchDelay time.Duration `config:"max_batch_delay" help:"longest a change waits for others to join its batch even when the pipe to the peer is idle (0: send at once; Eureka: 500ms)"`
	// QueueSize bounds the pending tasks per peer; overflow drops the
	// oldest (Eureka: 10000).
	QueueSize int `config:"queue_size" help:"most pending replication tasks per peer (overflow drops the oldest)"`
	// TaskExpiry drops a task not sent within this time (Eureka: 30 s).
	TaskExpiry time.Duration `config:"task_expiry" help:"a replication task not delivered within this time is dropped"`
	// RetryBackoff is the first pause after a congested (503, timeout) or
	// failed (I/O error) batch; it doubles up to MaxBackoff.
	RetryBackoff time.Duration `config:"retry_backoff" help:"first pause after a peer is congested or unreachable (doubles each time)"`
	// MaxBackoff caps the pause between retries.
	MaxBackoff time.Duration `config:"max_backoff" help:"longest pause between retries to a peer"`
	// PeerTimeout bounds one request to a peer.
	PeerTimeout time.Duration `config:"peer_timeout" help:"time allowed for one request to a peer"`
	// ProbeInterval is how often an idle peer is sent an empty batch, so
	// its availability (GET status) stays known.
	ProbeInterval time.Duration `config:"probe_interval" help:"how often an idle peer is probed with an empty batch"`
	// SyncRetries is how many rounds the start-up sync tries the peers
	// before giving up (it stops at the first peer that answers).
	SyncRetries int `config:"sync_retries" help:"start-up sync: rounds of fetching the registry from the peers (0: no sync)"`
	// AntiEntropyInterval is how often this node compares its registry
	// with each eurekad peer and repairs the differences (doc.go); rounds
	// also run at start, when a peer comes back, when tasks for a peer
	// were lost and after this process stalled. 0 turns anti-entropy off.
	AntiEntropyInterval time.Duration `config:"anti_entropy_interval" help:"how often to compare registries with each eurekad peer and repair differences (0: off; Java peers are skipped)"`
	// SyncRetryWait is the pause between start-up sync rounds.
	SyncRetryWait time.Duration `config:"sync_retry_wait" help:"start-up sync: pause between rounds"`
	// SyncTimeout bounds the start-up sync's fetch of a peer's registry:
	// a million instances are a gigabyte of JSON the peer builds first.
	SyncTimeout time.Duration `config:"sync_timeout" help:"start-up sync: time allowed for fetching a peer's whole registry"`
	// SyncMaxBytes bounds that registry, decoded from gzip: about 1.3 KB
	// per instance of JSON, so the default takes about 3,000,000.
	SyncMaxBytes int `config:"sync_max_bytes" help:"start-up sync: largest registry accepted from a peer, in bytes of JSON"`

	// TLS is this server's TLS as a client of https:// peers: the CA that
	// signs them, and a client certificate for peers that ask for one.
	TLS tlsconf.Client `config:"tls"`

	// ListenAddr is this server's listen address, for recognising its own
	// URL in Peers.
	ListenAddr string `config:"-"`
	// Logger receives replication records; nil discards them.
	Logger *slog.Logger `config:"-"`
}

// DefaultOptions returns Eureka's replication defaults (§8.3), except that
// a change to an idle peer leaves at once (MaxBatchDelay 0) and a busy
// pipe sends a batch every 10 ms at most, and no peers.
func DefaultOptions() Options {
	return Options{
		Peers:         []string{},
		BatchSize:     250,
		BatchInterval: 10 * time.Millisecond,
		QueueSize:     10000,
		TaskExpiry:    30 * time.Second,
		RetryBackoff:  100 * time.Millisecond,
		MaxBackoff:    30 * time.Second,
		PeerTimeout:   5 * time.Second,
		ProbeInterval: 30 * time.Second,
		SyncRetries:   5,
		SyncRetryWait: 5 * time.Second,
		SyncTimeout:   2 * time.Minute,
		SyncMaxBytes:  4 << 30,

		AntiEntropyInterval: 30 * time.Second,
	}
}
