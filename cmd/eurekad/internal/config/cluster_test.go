package config

import (
	"strings"
	"testing"
)

func TestClusterSettings(t *testing.T) {
	cfg, _, err := Load([]string{"--peers=http://a:8761/eureka/,http://u:p@b:8761/eureka", "--self-url=http://a:8761/eureka/"},
		[]string{"EUREKAD_CLUSTER_BATCH_SIZE=100", "EUREKAD_CLUSTER_MAX_BATCH_DELAY=200ms"})
	if err != nil {
		t.Fatal(err)
	}
	if c := cfg.Cluster; len(c.Peers) != 2 || c.SelfURL != "http://a:8761/eureka/" || c.BatchSize != 100 || c.MaxBatchDelay.String() != "200ms" {
		t.Errorf("cluster = %+v", c)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--peers=ftp://a/"}, "cluster.peers"},
		{[]string{"--peers=http://user:hunter2@/eureka/"}, "cluster.peers"},
		{[]string{"--self-url=eureka-1:8761"}, "cluster.self_url"},
		{[]string{"--cluster.batch-size=0"}, "cluster.batch_size"},
		{[]string{"--cluster.batch-size=500", "--cluster.queue-size=100"}, "larger than cluster.queue_size"},
		{[]string{"--cluster.sync-retries=-1"}, "cluster.sync_retries"},
	} {
		_, _, err := Load(tc.args, nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want an error about %s", tc.args, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "hunter2") {
			t.Errorf("%v: the error shows the password: %v", tc.args, err)
		}
	}
}
