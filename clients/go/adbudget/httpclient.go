package adbudget

import (
	"crypto/tls"
	"net"
	"net/http"
	"time"
)

// HTTPOption configures [NewHTTPClient].
type HTTPOption func(*httpConfig)

type httpConfig struct {
	tls *tls.Config
}

// WithTLSConfig sets the TLS configuration of https:// URLs (a private CA, a client certificate
// for mutual TLS). Without it the system roots are used.
func WithTLSConfig(cfg *tls.Config) HTTPOption {
	return func(c *httpConfig) { c.tls = cfg }
}

const (
	// pingAfterIdle is how long a connection may stay silent before the client sends an HTTP/2
	// ping (x/net/http2's ReadIdleTimeout). A watch stream can legitimately carry nothing for
	// hours; without pings a connection whose peer vanished (a node lost, a NAT entry dropped)
	// would look alive for ever and the cache would never reconnect. 10 s is what docs/sdk.md
	// promises: it bounds detection while costing one small frame per idle 10 s.
	pingAfterIdle = 10 * time.Second
	// pingTimeout closes the connection when a ping is not answered within it: 5 s is far above
	// any loopback or in-cluster round trip, so only a dead peer trips it. Together with
	// pingAfterIdle, a silently dead connection is found within 15 s.
	pingTimeout = 5 * time.Second
	// dialTimeout bounds one TCP (and TLS) connect: an unreachable address should fail fast and
	// let the caller's backoff decide when to try again.
	dialTimeout = 5 * time.Second
)

// NewHTTPClient returns an HTTP/2-only client for the adbudget services: h2c (HTTP/2 with prior
// knowledge) for http:// URLs, HTTP/2 over TLS for https:// URLs. HTTP/2 is required, not
// preferred: WatchCampaigns is a long-lived server stream, and one TCP connection multiplexing
// every call keeps an ad server's connection count at one per service.
//
// The client pings idle connections (every 10 s, 5 s timeout) so that a connection that died
// silently is found and the stream on it fails, instead of waiting for TCP's own timeouts.
func NewHTTPClient(opts ...HTTPOption) *http.Client {
	var cfg httpConfig
	for _, o := range opts {
		o(&cfg)
	}
	var protocols http.Protocols
	protocols.SetHTTP2(true)
	protocols.SetUnencryptedHTTP2(true)
	transport := &http.Transport{
		Protocols:       &protocols,
		TLSClientConfig: cfg.tls,
		DialContext:     (&net.Dialer{Timeout: dialTimeout}).DialContext,
		HTTP2: &http.HTTP2Config{
			SendPingTimeout: pingAfterIdle,
			PingTimeout:     pingTimeout,
		},
		TLSHandshakeTimeout: dialTimeout,
		// The services answer fast; an idle connection is kept for the next call (a stream keeps
		// its own open anyway).
		IdleConnTimeout: 90 * time.Second,
	}
	// No http.Client.Timeout: it would cut the long-lived watch streams. Unary calls get their
	// deadline from the interceptor (NewInterceptor).
	return &http.Client{Transport: transport}
}
