package registry

import (
	"log/slog"
	"time"

	"github.com/eurekad/eurekad/core/rules"
)

// Clock tells the registry the time. Tests inject a fake one so eviction,
// self-preservation and delta retention run without sleeping.
type Clock interface {
	Now() time.Time
}

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

// SystemClock is the wall clock.
var SystemClock Clock = systemClock{}

// Options configures a Registry. Start from DefaultOptions: the zero value of
// a bool or number here is a real setting, not "use the default".
type Options struct {
	// Clock is the time source; nil means SystemClock.
	Clock Clock `config:"-"`
	// Logger receives the registry's logs; nil discards them.
	Logger *slog.Logger `config:"-"`
	// Events receives the registry's events (an *events.Bus); nil means
	// no events are built.
	Events EventSink `config:"-"`
	// EnableSelfPreservation stops eviction while renewals fall below the
	// threshold (Eureka's enableSelfPreservation).
	EnableSelfPreservation bool `config:"enable_self_preservation" help:"stop evicting while renewals are below the threshold"`
	// RenewalPercentThreshold is the share of expected renewals below which
	// self-preservation engages, and 1 minus the share of the registry one
	// eviction run may remove (renewalPercentThreshold).
	RenewalPercentThreshold float64 `config:"renewal_percent_threshold" help:"share of expected renewals below which self-preservation engages; 1 minus it caps each eviction run"`
	// ExpectedClientRenewalInterval is how often clients are expected to renew
	// (expectedClientRenewalIntervalSeconds).
	ExpectedClientRenewalInterval time.Duration `config:"expected_client_renewal_interval" help:"how often clients are expected to renew"`
	// RenewalThresholdUpdateInterval is how often the expected number of
	// renewing clients is recounted (renewalThresholdUpdateIntervalMs).
	RenewalThresholdUpdateInterval time.Duration `config:"renewal_threshold_update_interval" help:"how often the expected renewing-client count is recounted"`
	// ExpectedNumberOfClientsSendingRenews is the starting expected client
	// count (Spring Cloud's expected-number-of-clients-sending-renews).
	ExpectedNumberOfClientsSendingRenews int `config:"expected_number_of_clients_sending_renews" help:"starting expected client count"`
	// DefaultOpenForTrafficCount replaces a start-up sync count of zero
	// (Spring Cloud's defaultOpenForTrafficCount). 0 gives Netflix's
	// behaviour: reads are refused for WaitTimeWhenSyncEmpty after a start
	// that found nothing to sync.
	DefaultOpenForTrafficCount int `config:"default_open_for_traffic_count" help:"count used when start-up sync finds nothing (0: gate reads like Netflix Eureka)"`
	// WaitTimeWhenSyncEmpty is how long reads are gated after a start that
	// synced nothing (waitTimeInMsWhenSyncEmpty).
	WaitTimeWhenSyncEmpty time.Duration `config:"wait_time_when_sync_empty" help:"how long reads are refused after a start that synced nothing"`
	// EvictionInterval is the period of the eviction task
	// (evictionIntervalTimerInMs).
	EvictionInterval time.Duration `config:"eviction_interval" help:"period of the eviction task"`
	// LegacyLeaseExpiry reproduces Eureka's renew bug: a renewed lease
	// expires twice its duration after the last renewal, and
	// lastRenewalTimestamp shows renewal time plus duration. Off, a lease
	// expires its duration after the last renewal.
	LegacyLeaseExpiry bool `config:"legacy_lease_expiry" help:"expire leases twice their duration after the last renew, as Eureka does"`
	// SyncWhenTimestampDiffers turns on lastDirtyTimestamp reconciliation on
	// renew (syncWhenTimestampDiffers).
	SyncWhenTimestampDiffers bool `config:"sync_when_timestamp_differs" help:"reconcile lastDirtyTimestamp on renew (404/409)"`
	// DeltaRetention is how long a change stays in the delta queue
	// (retentionTimeInMSInDeltaQueue).
	DeltaRetention time.Duration `config:"delta_retention" help:"how long a change stays in apps/delta"`
	// DeltaRetentionSweepInterval is how often old changes are dropped from
	// the delta queue (deltaRetentionTimerIntervalInMs).
	DeltaRetentionSweepInterval time.Duration `config:"delta_retention_sweep_interval" help:"how often old changes leave the delta queue"`
	// Limits are the input rules a store's records must pass at Restore;
	// the zero value means rules.DefaultLimits. eurekad sets them from its
	// limits section, which other writes are checked against too.
	Limits rules.Limits `config:"-"`
	// OverrideExpiry drops a status override this long after it was last
	// read (Eureka's one-hour expire-after-access cache).
	OverrideExpiry time.Duration `config:"override_expiry" help:"drop a status override this long after it was last used"`
	// TombstoneRetention is how long a cancel is remembered, so that a
	// node that missed it cannot bring the instance back through
	// anti-entropy or a stale replicated registration. Make it longer than
	// any outage the cluster should heal from.
	TombstoneRetention time.Duration `config:"tombstone_retention" help:"how long a cancelled instance is remembered so that peers that missed the cancel cannot bring it back"`
	// TombstoneLimit caps the cancels remembered; the oldest go first.
	TombstoneLimit int `config:"tombstone_limit" help:"most cancelled instances remembered (oldest dropped first)"`
}

// DefaultOptions returns Eureka's defaults, with Spring Cloud's start-up
// behaviour (no read gate) and correct lease expiry.
func DefaultOptions() Options {
	return Options{
		EnableSelfPreservation:               true,
		RenewalPercentThreshold:              0.85,
		ExpectedClientRenewalInterval:        30 * time.Second,
		RenewalThresholdUpdateInterval:       15 * time.Minute,
		ExpectedNumberOfClientsSendingRenews: 1,
		DefaultOpenForTrafficCount:           1,
		WaitTimeWhenSyncEmpty:                5 * time.Minute,
		EvictionInterval:                     60 * time.Second,
		SyncWhenTimestampDiffers:             true,
		DeltaRetention:                       3 * time.Minute,
		DeltaRetentionSweepInterval:          30 * time.Second,
		OverrideExpiry:                       time.Hour,
		TombstoneRetention:                   6 * time.Hour,
		TombstoneLimit:                       100_000,
	}
}
