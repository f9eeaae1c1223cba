package main

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/eurekad/eurekad/internal/tlsconf"
	"github.com/eurekad/eurekad/sdk/client"
)

// newDrainCmd builds "eurekad drain APP [ID]".
func newDrainCmd(a *app) *cobra.Command {
	var server, token string
	var timeout time.Duration
	var cancel bool
	var tlsFiles tlsconf.Client
	cmd := &cobra.Command{
		Use:   "drain APP [ID]",
		Short: "Take an instance (or an application) out of service and wait until every reader has seen it",
		Long: `Set OUT_OF_SERVICE on instance ID of APP (every instance of APP when ID is
omitted), or with --cancel deregister it, through a running eurekad's admin
API, and wait until every registry reader that was active at the change
(fetched within two of its fetch intervals) has fetched a version holding it.

It exits 0 once every reader confirmed, and 1 at --timeout, listing the
readers still behind (the change is made either way). Readers are the
clients that fetch the registry: Eureka clients (by address and
User-Agent), eurekad's Go SDK (by its client id), peers.

The server answers loopback clients, or anyone with its http.admin_token
(or, with an authenticator, whoever it grants admin).`,
		Example: `  eurekad drain ORDERS 10.0.0.7:orders:8080
  eurekad drain --server http://eurekad:8761 --token "$TOKEN" --timeout 90s ORDERS "$POD_IP:orders:8080"
  eurekad drain --cancel --timeout 2m ORDERS`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 || len(args) == 2 {
				return nil
			}
			return &usageError{cmd: cmd, err: fmt.Errorf("%s takes APP and an optional ID, got %d argument(s)", cmd.CommandPath(), len(args))}
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if token == "" {
				token, _ = lookupEnv(a.environ, "EUREKAD_HTTP_ADMIN_TOKEN")
			}
			_, tlsConfig, err := tlsFiles.Load()
			if err != nil {
				return err
			}
			c, err := client.New(client.Options{ServiceURLs: []string{strings.TrimRight(server, "/") + "/eureka/"}, TLSConfig: tlsConfig, ClientID: "eurekad-drain"})
			if err != nil {
				return err
			}
			id := ""
			if len(args) == 2 {
				id = args[1]
			}
			res, err := c.Drain(cmd.Context(), args[0], id, client.DrainOptions{Cancel: cancel, Timeout: timeout, AdminToken: token})
			if err != nil && !errors.Is(err, client.ErrNotConfirmed) {
				return err
			}
			printDrain(cmd.OutOrStdout(), res)
			if err != nil {
				return fmt.Errorf("%d reader(s) had not fetched the change after %s", len(res.Pending), timeout)
			}
			return nil
		},
	}
	addServerFlags(cmd, &server, &token, &tlsFiles)
	cmd.Flags().DurationVar(&timeout, "timeout", 30*time.Second, "how long the server waits for readers (capped below its write timeout)")
	cmd.Flags().BoolVar(&cancel, "cancel", false, "deregister instead of taking out of service")
	return cmd
}

// addServerFlags adds the flags of a command that talks to a running
// server's admin API: its URL, the admin token and the TLS files.
func addServerFlags(cmd *cobra.Command, server, token *string, tlsFiles *tlsconf.Client) {
	cmd.Flags().StringVar(server, "server", "http://127.0.0.1:8761", "base URL of the running eurekad")
	cmd.Flags().StringVar(token, "token", "", "admin bearer token (default from EUREKAD_HTTP_ADMIN_TOKEN)")
	cmd.Flags().StringVar(&tlsFiles.CAFile, "ca-file", "", "PEM CA certificates that sign an https:// server's certificate (default: the system's)")
	cmd.Flags().StringVar(&tlsFiles.CertFile, "cert-file", "", "PEM client certificate, for a server that asks for one")
	cmd.Flags().StringVar(&tlsFiles.KeyFile, "key-file", "", "PEM private key of --cert-file")
}

// printDrain writes what was drained and each reader's state.
func printDrain(w io.Writer, r *client.DrainResult) {
	fmt.Fprintf(w, "%s %s %s: version %d, %d confirmed, %d pending after %.1fs\n",
		r.Mode, r.App, strings.Join(r.IDs, ","), r.Version, len(r.Confirmed), len(r.Pending), r.ElapsedSeconds)
	if len(r.Confirmed)+len(r.Pending) == 0 {
		return
	}
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "READER\tSTATE\tVERSION\tINTERVAL\tLAST FETCH")
	row := func(rd client.Reader, state string) {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%.1fs\t%s\n", rd.Name, state, rd.Version, rd.IntervalSeconds, rd.LastFetch.Format(time.RFC3339))
	}
	for _, rd := range r.Pending {
		row(rd, "pending")
	}
	for _, rd := range r.Confirmed {
		row(rd, "confirmed")
	}
	tw.Flush()
	if r.Untracked > 0 {
		fmt.Fprintf(w, "%d reader(s) were never tracked (reader cap) and were not waited for\n", r.Untracked)
	}
}
