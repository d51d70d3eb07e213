package trinotest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"
)

// announcement is a node a coordinator heard from.
type announcement struct {
	uri      string
	lastSeen time.Time
}

// airliftAnnouncement is the JSON airlift's HttpDiscoveryAnnouncementClient
// PUTs to {discovery.uri}/v1/announcement/{nodeId}
// (io.airlift.discovery.client.Announcement).
type airliftAnnouncement struct {
	Environment string                `json:"environment"`
	NodeID      string                `json:"nodeId"`
	Pool        string                `json:"pool"`
	Location    string                `json:"location"`
	Services    []airliftServiceAnnce `json:"services"`
}

type airliftServiceAnnce struct {
	ID         string            `json:"id"`
	Type       string            `json:"type"`
	Properties map[string]string `json:"properties"`
}

// handleAnnounce is Trino's AnnounceNodeResource: the body is the node's
// URI as text/plain; the coordinator keeps it for the announcement TTL.
func (s *Server) handleAnnounce(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 4<<10))
	uri := strings.TrimSpace(string(body))
	if err != nil || !strings.HasPrefix(uri, "http") {
		http.Error(w, "announcement body must be the node URI", http.StatusBadRequest)
		return
	}
	s.remember(uri, uri)
	w.WriteHeader(http.StatusNoContent)
}

// handleAirliftAnnounce accepts the legacy airlift discovery announcement
// (discovery.type=AIRLIFT_DISCOVERY), answering as airlift's discovery server.
func (s *Server) handleAirliftAnnounce(w http.ResponseWriter, r *http.Request) {
	var a airliftAnnouncement
	if err := json.NewDecoder(io.LimitReader(r.Body, 64<<10)).Decode(&a); err != nil {
		http.Error(w, "invalid announcement: "+err.Error(), http.StatusBadRequest)
		return
	}
	if a.Environment != s.opts.Environment {
		http.Error(w, fmt.Sprintf("Environment mismatch. Expected: %s, Provided: %s", s.opts.Environment, a.Environment), http.StatusBadRequest)
		return
	}
	for _, svc := range a.Services {
		if svc.Type != "trino" {
			continue
		}
		uri := svc.Properties["https"]
		if uri == "" {
			uri = svc.Properties["http"]
		}
		if uri != "" {
			s.remember(r.PathValue("nodeId"), uri)
			w.WriteHeader(http.StatusAccepted)
			return
		}
	}
	http.Error(w, "announcement has no trino service with an http or https property", http.StatusBadRequest)
}

func (s *Server) handleAirliftUnannounce(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	delete(s.announced, r.PathValue("nodeId"))
	s.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) remember(key, uri string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.announced[key]; !ok {
		s.log.Info("node announced", "uri", uri)
	}
	s.announced[key] = announcement{uri: uri, lastSeen: time.Now()}
}

// nodes builds system.runtime.nodes as Trino's coordinator does: itself,
// plus every node announced within the TTL whose /v1/info answers with the
// same environment and version. A node that does not answer is gone and not
// listed.
func (s *Server) nodes() []nodeRow {
	self := nodeRow{NodeID: s.opts.NodeID, HTTPURI: s.opts.InternalURI, Version: s.opts.Version,
		Coordinator: s.opts.Coordinator, State: strings.ToLower(s.State())}
	s.mu.Lock()
	var uris []string
	for key, a := range s.announced {
		if time.Since(a.lastSeen) > s.opts.AnnouncementTTL {
			delete(s.announced, key)
			continue
		}
		uris = append(uris, a.uri)
	}
	s.mu.Unlock()

	rows := make([]*nodeRow, len(uris))
	var wg sync.WaitGroup
	for i, uri := range uris {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rows[i] = s.probe(uri)
		}()
	}
	wg.Wait()
	out := []nodeRow{self}
	for _, r := range rows {
		if r != nil && r.NodeID != self.NodeID {
			out = append(out, *r)
		}
	}
	sort.Slice(out[1:], func(i, j int) bool { return out[1+i].NodeID < out[1+j].NodeID })
	return out
}

// probe reads a node's /v1/info, as Trino's RemoteNodeState does.
func (s *Server) probe(uri string) *nodeRow {
	ctx, cancel := context.WithTimeout(s.ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(uri, "/")+"/v1/info", nil)
	if err != nil {
		return nil
	}
	s.signRequest(req)
	resp, err := s.client.Do(req)
	if err != nil {
		s.log.Warn("node ignored: /v1/info does not answer", "uri", uri, "err", err)
		return nil
	}
	defer resp.Body.Close()
	var info serverInfo
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&info) != nil {
		return nil
	}
	if info.Environment != s.opts.Environment || info.NodeVersion.Version != s.opts.Version {
		s.log.Warn("node ignored: environment or version mismatch", "uri", uri, "environment", info.Environment, "version", info.NodeVersion.Version)
		return nil
	}
	return &nodeRow{NodeID: info.NodeID, HTTPURI: uri, Version: info.NodeVersion.Version,
		Coordinator: info.Coordinator, State: strings.ToLower(info.State)}
}

// announceLoop announces this worker at the end of start-up and then every
// AnnounceInterval, until shutdown is requested or the server closes.
func (s *Server) announceLoop() {
	t := time.NewTicker(s.opts.AnnounceInterval)
	defer t.Stop()
	announced := false
	started := s.started
	for {
		switch {
		case s.State() == StateShuttingDown:
			if announced && s.opts.DiscoveryType == DiscoveryAirlift {
				s.unannounce()
			}
			return
		case !s.starting.Load():
			if err := s.announce(); err != nil {
				s.log.Warn("Error announcing node state", "discovery_uri", s.opts.DiscoveryURI, "err", err)
			} else {
				announced = true
			}
		}
		select {
		case <-t.C:
		case <-started:
			started = nil // announce once now, then on the ticker
		case <-s.done:
		case <-s.ctx.Done():
			if announced && s.opts.DiscoveryType == DiscoveryAirlift {
				s.unannounce()
			}
			return
		}
	}
}

// announce sends one announcement in the configured discovery type.
func (s *Server) announce() error {
	base := strings.TrimRight(s.opts.DiscoveryURI, "/")
	if s.opts.DiscoveryType == DiscoveryAnnounce {
		return s.send(http.MethodPost, base+"/v1/announce", "text/plain", []byte(s.opts.InternalURI))
	}
	body, err := json.Marshal(s.airliftAnnouncement())
	if err != nil {
		return err
	}
	return s.send(http.MethodPut, base+"/v1/announcement/"+s.opts.NodeID, "application/json", body)
}

// airliftAnnouncement is what a Trino node announces through airlift
// discovery: an HTTP service of type "trino" with its version and role.
func (s *Server) airliftAnnouncement() airliftAnnouncement {
	return airliftAnnouncement{
		Environment: s.opts.Environment,
		NodeID:      s.opts.NodeID,
		Pool:        "general",
		Location:    "/" + s.opts.NodeID,
		Services: []airliftServiceAnnce{{
			ID:   s.serviceID,
			Type: "trino",
			Properties: map[string]string{
				"node_version":  s.opts.Version,
				"coordinator":   fmt.Sprint(s.opts.Coordinator),
				"http":          s.opts.InternalURI,
				"http-external": s.opts.InternalURI,
			},
		}},
	}
}

func (s *Server) unannounce() {
	base := strings.TrimRight(s.opts.DiscoveryURI, "/")
	if err := s.send(http.MethodDelete, base+"/v1/announcement/"+s.opts.NodeID, "", nil); err != nil {
		s.log.Warn("Error unannouncing node", "err", err)
	}
}

// send makes a signed request to the discovery service, addressed by
// IP-encoded host name under automatic HTTPS, as Trino's discovery client.
func (s *Server) send(method, url, contentType string, body []byte) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if s.automatic {
		url = ipEncodedURL(url)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	s.signRequest(req)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("User-Agent", s.opts.NodeID)
	resp, err := s.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("%s %s: status %d %s: %s", method, url, resp.StatusCode, http.StatusText(resp.StatusCode), strings.TrimSpace(string(msg)))
	}
	return nil
}
