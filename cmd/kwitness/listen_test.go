package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestListenRule: a non-loopback listener without TLS and tokens is refused
// with a message naming --insecure, for run and demo alike, before anything
// starts; --insecure lets it pass validation.
func TestListenRule(t *testing.T) {
	for _, args := range [][]string{
		{"run", "--brokers", "127.0.0.1:1", "--http-listen", "0.0.0.0:9471"},
		{"run", "--brokers", "127.0.0.1:1", "--grpc-listen", ":9470"},
		{"demo", "--for", "1s", "--http-listen", "0.0.0.0:0"},
	} {
		var out, errOut bytes.Buffer
		err := runMain(args, &out, &errOut)
		if err == nil || !strings.Contains(err.Error(), "--insecure") || !strings.Contains(err.Error(), "TLS") {
			t.Errorf("kwitness %s: error %v, want a refusal naming --insecure and TLS", strings.Join(args, " "), err)
		}
	}
	cfg := DefaultConfig()
	cfg.Kafka.Brokers = []string{"b:9092"}
	cfg.API.HTTPListen = "0.0.0.0:9471"
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "--insecure") {
		t.Errorf("Validate() = %v, want the listener rule", err)
	}
	cfg.API.Insecure = true
	if err := cfg.Validate(); err != nil {
		t.Errorf("with insecure: Validate() = %v", err)
	}
	cfg.API.Insecure = false
	cfg.API.TLS.CertFile, cfg.API.TLS.KeyFile, cfg.API.TokensFile = "c.pem", "k.pem", "tokens.yaml"
	if err := cfg.Validate(); err != nil {
		t.Errorf("with TLS and tokens: Validate() = %v", err)
	}
	for _, a := range []string{"127.0.0.1:9471", "[::1]:9471", "localhost:9471", "127.0.0.2:1"} {
		cfg := DefaultConfig()
		cfg.Kafka.Brokers = []string{"b:9092"}
		cfg.API.HTTPListen = a
		if err := cfg.Validate(); err != nil {
			t.Errorf("loopback %s: Validate() = %v", a, err)
		}
	}
}
