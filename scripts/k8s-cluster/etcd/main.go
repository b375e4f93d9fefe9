// Command etcd is a single-member etcd for the test cluster: a small main around
// go.etcd.io/etcd/server/v3/embed (Debian's etcd-server, 3.4, is older than what the chosen
// Kubernetes release supports).
package main

import (
	"flag"
	"log"
	"net/url"
	"os"
	"os/signal"
	"syscall"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
)

func mustURL(s string) url.URL {
	u, err := url.Parse(s)
	if err != nil {
		log.Fatalf("bad URL %q: %v", s, err)
	}
	return *u
}

func main() {
	name := flag.String("name", "default", "member name")
	dir := flag.String("data-dir", "default.etcd", "data directory")
	client := flag.String("listen-client-url", "http://127.0.0.1:2379", "client URL (listened on and advertised)")
	peer := flag.String("listen-peer-url", "http://127.0.0.1:2380", "peer URL (listened on and advertised)")
	metrics := flag.String("listen-metrics-url", "", "optional URL for /metrics and /health only")
	noFsync := flag.Bool("unsafe-no-fsync", true, "skip fsync (a test cluster: faster, not crash-safe)")
	quota := flag.Int64("quota-backend-bytes", 2<<30, "backend size quota")
	logLevel := flag.String("log-level", "warn", "zap log level")
	flag.Parse()

	cfg := embed.NewConfig()
	cfg.Name = *name
	cfg.Dir = *dir
	c, p := mustURL(*client), mustURL(*peer)
	cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{c}, []url.URL{c}
	cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{p}, []url.URL{p}
	if *metrics != "" {
		cfg.ListenMetricsUrls = []url.URL{mustURL(*metrics)}
	}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	cfg.UnsafeNoFsync = *noFsync
	cfg.QuotaBackendBytes = *quota
	cfg.WarningUnaryRequestDuration = embed.DefaultWarningUnaryRequestDuration // 0 logs every request
	cfg.AutoCompactionMode = "periodic"
	cfg.AutoCompactionRetention = "5m"
	cfg.Logger = "zap"
	cfg.LogLevel = *logLevel
	cfg.LogOutputs = []string{"stderr"}

	e, err := embed.StartEtcd(cfg)
	if err != nil {
		log.Fatalf("start etcd: %v", err)
	}
	defer e.Close()
	select {
	case <-e.Server.ReadyNotify():
		log.Printf("etcd ready: client %s, peer %s", c.String(), p.String())
	case <-time.After(60 * time.Second):
		e.Server.Stop()
		log.Fatal("etcd did not become ready within 60s")
	}

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	select {
	case s := <-sig:
		log.Printf("etcd stopping on %v", s)
	case err := <-e.Err():
		log.Fatalf("etcd: %v", err)
	}
}
