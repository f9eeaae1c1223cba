package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/eurekad/eurekad/cmd/eurekad/internal/config"
	"github.com/eurekad/eurekad/core/namespace"
	"github.com/eurekad/eurekad/core/persist"
	"github.com/eurekad/eurekad/core/registry"
	inputrules "github.com/eurekad/eurekad/core/rules"
	"github.com/eurekad/eurekad/core/snapshot"
	"github.com/eurekad/eurekad/internal/tlsconf"
	"github.com/eurekad/eurekad/sdk/eureka"
	"github.com/eurekad/eurekad/sdk/storage"
)

// newSnapshotCmd builds "eurekad snapshot save|restore|inspect".
func newSnapshotCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "snapshot",
		Short: "Back up a running server's registry, and restore it into a store",
		Long: `A snapshot is one file in eurekad's snapshot format (JSON lines, the same
whatever the store): "save" takes a consistent copy from a running server
through its admin endpoint, "restore" writes a snapshot into the configured
store while the server is stopped, "inspect" summarises a file.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(newSnapshotSaveCmd(a), newSnapshotRestoreCmd(a), newSnapshotInspectCmd())
	return cmd
}

func newSnapshotSaveCmd(a *app) *cobra.Command {
	var server, token, ns string
	var tlsFiles tlsconf.Client
	cmd := &cobra.Command{
		Use:   "save FILE",
		Short: "Save a running server's registry to FILE",
		Long: `Fetch a consistent copy of the registry from a running eurekad
(GET /admin/snapshot) and write it to FILE, replacing it atomically. The
server answers loopback clients, or anyone with its http.admin_token (or,
with an authenticator, whoever it grants admin). An https:// server is
checked against --ca-file, and --cert-file/--key-file present a client
certificate.`,
		Example: `  eurekad snapshot save backup.snapshot
  eurekad snapshot save --server http://10.0.0.7:8761 --token "$TOKEN" backup.snapshot
  eurekad snapshot save --server https://10.0.0.7:8761 --ca-file ca.pem \
      --cert-file ops.pem --key-file ops-key.pem backup.snapshot`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if token == "" {
				token, _ = lookupEnv(a.environ, "EUREKAD_HTTP_ADMIN_TOKEN")
			}
			_, tlsConfig, err := tlsFiles.Load()
			if err != nil {
				return err
			}
			n, refused, err := saveSnapshot(cmd.Context(), server, ns, token, tlsConfig, args[0])
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "saved %d instances to %s\n", n, args[0])
			reportRefused(cmd.ErrOrStderr(), "a restore will skip", refused)
			return nil
		},
	}
	addServerFlags(cmd, &server, &token, &tlsFiles)
	cmd.Flags().StringVar(&ns, "namespace", "", "save this namespace only (default: the whole registry, every namespace)")
	return cmd
}

// snapshotQuery is the query that selects namespace ns, "" for all.
func snapshotQuery(ns string) string {
	if ns == "" {
		return ""
	}
	return "?namespace=" + url.QueryEscape(ns)
}

// saveSnapshot fetches a snapshot (of namespace ns, "" for all) into file
// and returns how many records it holds and which of them break the
// default input rules.
func saveSnapshot(ctx context.Context, server, ns, token string, tlsConfig *tls.Config, file string) (int, []snapshot.Refused, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(server, "/")+"/admin/snapshot"+snapshotQuery(ns), nil)
	if err != nil {
		return 0, nil, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	client := &http.Client{Timeout: 5 * time.Minute, Transport: &http.Transport{TLSClientConfig: tlsConfig, Proxy: http.ProxyFromEnvironment}}
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("fetch snapshot: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return 0, nil, fmt.Errorf("fetch snapshot: %s: %s", resp.Status, strings.TrimSpace(string(msg)))
	}
	tmp, err := os.CreateTemp(filepath.Dir(file), ".snapshot-*")
	if err != nil {
		return 0, nil, err
	}
	defer os.Remove(tmp.Name())
	if _, err := io.Copy(tmp, resp.Body); err != nil {
		tmp.Close()
		return 0, nil, fmt.Errorf("fetch snapshot: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return 0, nil, err
	}
	if err := tmp.Close(); err != nil {
		return 0, nil, err
	}
	// Check the copy before it replaces anything: a cut connection leaves a
	// short file that the record count exposes.
	_, keep, refused, err := readSnapshot(tmp.Name(), inputrules.Limits{})
	if err != nil {
		return 0, nil, err
	}
	return len(keep) + len(refused), refused, os.Rename(tmp.Name(), file)
}

// readSnapshot reads a whole snapshot and checks every record against
// limits (the zero value: the defaults): keep are the records a server
// would restore, refused those that break the input rules. A record that
// cannot be read fails it.
func readSnapshot(file string, limits inputrules.Limits) (h snapshot.Header, keep []storage.Record, refused []snapshot.Refused, err error) {
	f, err := os.Open(file)
	if err != nil {
		return h, nil, nil, err
	}
	defer f.Close()
	var recs []storage.Record
	h, err = snapshot.Read(f, func(r storage.Record) error {
		recs = append(recs, r)
		return nil
	})
	if err == nil {
		keep, refused, err = snapshot.Check(recs, limits)
	}
	if err != nil {
		return h, nil, nil, fmt.Errorf("%s: %w", file, err)
	}
	return h, keep, refused, nil
}

// maxRefusedLines bounds the records reportRefused lists one by one.
const maxRefusedLines = 20

// reportRefused tells w how many records break the input rules and which
// (the first maxRefusedLines), each by excerpts of its key and the rule.
func reportRefused(w io.Writer, what string, refused []snapshot.Refused) {
	if len(refused) == 0 {
		return
	}
	fmt.Fprintf(w, "%d records break the input rules (limits), %s them:\n", len(refused), what)
	for i, r := range refused {
		if i == maxRefusedLines {
			fmt.Fprintf(w, "  … and %d more\n", len(refused)-i)
			break
		}
		fmt.Fprintf(w, "  %s: %v\n", r.Name(), r.Err)
	}
}

func newSnapshotRestoreCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "restore FILE",
		Short: "Replace the configured store's contents with a snapshot",
		Long: `Write the snapshot in FILE into the store eurekad is configured with (the
same settings as the server: --storage, --data-dir, --redis-url,
--storage-plugin and its config block, …),
replacing what the store holds. Stop the server first: a bolt store is
locked by a running server, and a running server would overwrite a Redis
store with its own registry. The file is checked completely before the
store is touched: a record that cannot be read stops the restore, and
records that break the input rules (the limits settings) are skipped and
listed, as a server would skip them at start.`,
		Example: `  eurekad snapshot restore backup.snapshot
  eurekad snapshot restore --storage redis --redis-url redis://10.0.0.9:6379/0 backup.snapshot`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, _, err := config.LoadFlags(cmd.Flags(), a.environ)
			if err != nil {
				return err
			}
			// Only what a server would restore reaches the store, checked
			// with the limits the server runs with.
			h, recs, refused, err := readSnapshot(args[0], cfg.Limits)
			if err != nil {
				return err
			}
			// The store is loaded as the server loads it: a built-in (in
			// process, or isolated with --isolate-builtins) or a storage
			// plugin with its config block.
			log := discardLogger()
			ps := &pluginSet{log: log, base: log}
			defer ps.Close()
			store, err := loadStore(cmd.Context(), cfg, ps, nil)
			switch {
			case err != nil && cfg.Plugins.Storage.Plugin != "":
				return fmt.Errorf("%w (is eurekad still running on this store?)", err)
			case err != nil:
				return err // the built-ins' errors say what to do
			case store == nil:
				return errors.New("storage is memory: there is no store to restore into (use --storage bolt or redis, or --storage-plugin)")
			}
			defer store.Close()
			if err := replaceStore(cmd.Context(), persist.HideMarkers(store), recs, cfg.Storage.Persist.BatchSize, h.Namespaces); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "restored %d instances into the %s store\n", len(recs), storeName(cfg))
			reportRefused(cmd.ErrOrStderr(), "skipped", refused)
			return nil
		},
	}
	config.AddFlags(cmd.Flags())
	return cmd
}

// replaceStore deletes every record of s and writes recs, in batches; with
// namespaces (a snapshot's header), only the records of those namespaces
// are replaced, the other namespaces' are kept.
func replaceStore(ctx context.Context, s storage.Store, recs []storage.Record, batch int, namespaces []string) error {
	var ops []storage.Op
	flush := func() error {
		if len(ops) == 0 {
			return nil
		}
		err := storage.ApplyBatch(ctx, s, ops)
		ops = ops[:0]
		return err
	}
	keep := make(map[storage.Key]bool, len(recs))
	for _, r := range recs {
		keep[r.Key] = true
	}
	var stale []storage.Key
	if err := s.Scan(ctx, "", func(r storage.Record) error {
		ns, own := namespace.SplitKey(r.Key)
		switch {
		case keep[r.Key]:
		case len(namespaces) > 0 && !slices.Contains(namespaces, ns):
		case persist.IsMarker(own): // a namespace's persister's own record
		default:
			stale = append(stale, r.Key)
		}
		return nil
	}); err != nil {
		return err
	}
	for _, k := range stale {
		ops = append(ops, storage.Op{Delete: true, Record: storage.Record{Key: k}})
		if len(ops) >= batch {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	for _, r := range recs {
		ops = append(ops, storage.Op{Record: r})
		if len(ops) >= batch {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	return flush()
}

func newSnapshotInspectCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "inspect FILE",
		Short: "Summarise a snapshot: applications, instances and statuses",
		Long: `Summarise a snapshot: applications, instances, statuses and overrides of
the records a restore would write, and the records that break the input
rules with the default limits, which a restore would skip.`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			h, recs, refused, err := readSnapshot(args[0], inputrules.Limits{})
			if err != nil {
				return err
			}
			if err := writeInspect(cmd.OutOrStdout(), h, recs); err != nil {
				return err
			}
			reportRefused(cmd.OutOrStdout(), "with the default limits a restore would skip", refused)
			return nil
		},
	}
}

func writeInspect(w io.Writer, h snapshot.Header, recs []storage.Record) error {
	type appSum struct {
		counts    eureka.StatusCounts
		n         int
		overrides int
	}
	apps := map[string]*appSum{}
	for _, r := range recs {
		ns, k := namespace.SplitKey(r.Key)
		r.Key = k
		in, override, _ := registry.DecodeRecord(r)
		name := in.App
		if ns != namespace.Default {
			name = ns + ": " + name
		}
		a := apps[name]
		if a == nil {
			a = &appSum{}
			apps[name] = a
		}
		a.n++
		a.counts.Add(in.Status)
		if override != "" {
			a.overrides++
		}
	}
	names := make([]string, 0, len(apps))
	for n := range apps {
		names = append(names, n)
	}
	sort.Strings(names)
	fmt.Fprintf(w, "format %s v%d, created %s, %d instances in %d applications\n\n",
		h.Format, h.Version, h.Created.Format(time.RFC3339), len(recs), len(names))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "APPLICATION\tINSTANCES\tSTATUSES\tOVERRIDES")
	for _, n := range names {
		a := apps[n]
		fmt.Fprintf(tw, "%s\t%d\t%s\t%d\n", n, a.n, a.counts.HashCode(), a.overrides)
	}
	return tw.Flush()
}
