package probe

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Kinds of attempt.
const (
	// TCP: does a connection open?
	TCP = "tcp"
	// TLS: an HTTPS request without a client certificate (and without
	// checking the server's): does any HTTP answer come back?
	TLS = "tls"
	// HTTP: a plain HTTP request: does any HTTP answer come back (other
	// than a TLS port's "plain HTTP to an HTTPS server" refusal)?
	HTTP = "http"
)

// Target is one attempt. Path and Header apply to TLS and HTTP.
type Target struct {
	Kind    string            `json:"kind"`
	Address string            `json:"address"` // host:port
	Path    string            `json:"path,omitempty"`
	Header  map[string]string `json:"header,omitempty"`
}

func (t Target) String() string {
	if t.Kind == TCP {
		return "tcp " + t.Address
	}
	s := t.Kind + " " + t.Address + t.Path
	for k, v := range t.Header {
		s += fmt.Sprintf(" [%s: %s]", k, v)
	}
	return s
}

// Result says whether a target answered. Open is false for a refused,
// dropped or reset connection and for a TLS handshake the server ended.
type Result struct {
	Target Target `json:"target"`
	Open   bool   `json:"open"`
	Detail string `json:"detail"`
}

// Run tries every target at once, each bounded by timeout.
func Run(ctx context.Context, targets []Target, timeout time.Duration) []Result {
	out := make([]Result, len(targets))
	var wg sync.WaitGroup
	for i, t := range targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			out[i] = try(ctx, t)
		}()
	}
	wg.Wait()
	return out
}

func try(ctx context.Context, t Target) Result {
	r := Result{Target: t}
	switch t.Kind {
	case TCP:
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", t.Address)
		if err != nil {
			r.Detail = short(err)
			return r
		}
		c.Close()
		r.Open, r.Detail = true, "connection accepted"
	case TLS, HTTP:
		r.Open, r.Detail = request(ctx, t)
	default:
		r.Detail = fmt.Sprintf("unknown probe kind %q", t.Kind)
	}
	return r
}

func request(ctx context.Context, t Target) (bool, string) {
	scheme := "http"
	tr := &http.Transport{DisableKeepAlives: true, Proxy: nil}
	if t.Kind == TLS {
		scheme = "https"
		// An intruder does not care who the server is; it has no client
		// certificate to offer.
		tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: true}
	}
	defer tr.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, scheme+"://"+t.Address+t.Path, nil)
	if err != nil {
		return false, err.Error()
	}
	for k, v := range t.Header {
		req.Header.Set(k, v)
	}
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return false, short(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 200))
	detail := strings.TrimSpace(resp.Status + " " + firstLine(string(body)))
	if t.Kind == HTTP && resp.StatusCode == http.StatusBadRequest && strings.Contains(string(body), "HTTPS") {
		// A TLS port answering plain HTTP with a refusal: nothing served.
		return false, "a TLS port refused plain HTTP: " + detail
	}
	return true, detail
}

// short keeps the part of a network error that says what happened.
func short(err error) string {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return "no answer (timeout)"
	}
	s := err.Error()
	for _, w := range []string{"connection refused", "no such host", "connection reset", "network is unreachable", "certificate required", "bad certificate", "handshake failure", "EOF"} {
		if strings.Contains(s, w) {
			return w
		}
	}
	return s
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}

// Main is `moat __probe TARGETS-JSON`: it prints the results as JSON.
func Main(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) != 1 {
		return errors.New("usage: moat __probe '[{\"kind\":\"tcp\",\"address\":\"host:port\"}, …]'")
	}
	var targets []Target
	if err := json.Unmarshal([]byte(args[0]), &targets); err != nil {
		return fmt.Errorf("probe targets: %w", err)
	}
	return json.NewEncoder(stdout).Encode(Run(ctx, targets, 2*time.Second))
}
