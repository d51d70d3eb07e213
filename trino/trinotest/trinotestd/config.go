package main

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"moat/trino/trinotest"
)

// config is what trinotestd takes from a Trino configuration directory.
type config struct {
	opts         trinotest.Options
	bindIP       string
	port         int  // http-server.http.port, unless opts.HTTPDisabled
	httpsEnabled bool // http-server.https.enabled
	httpsPort    int  // http-server.https.port, with httpsEnabled
}

// rejectedProperties are properties Trino refuses at start, with its message.
var rejectedProperties = map[string]string{
	// Unused since Trino 477; airlift stops the server on unused properties.
	"discovery-server.enabled": "Configuration property 'discovery-server.enabled' was not used",
	// @DefunctConfig on io.trino.server.security.SecurityConfig.
	"http.server.authentication.enabled":               "Defunct property 'http.server.authentication.enabled' (class [class io.trino.server.security.SecurityConfig]) cannot be configured.",
	"http-server.authentication.allow-forwarded-https": "Defunct property 'http-server.authentication.allow-forwarded-https' (class [class io.trino.server.security.SecurityConfig]) cannot be configured.",
	"dispatcher.forwarded-header":                      "Defunct property 'dispatcher.forwarded-header' (class [class io.trino.server.security.SecurityConfig]) cannot be configured.",
}

var environmentPattern = regexp.MustCompile(`^[a-z0-9][_a-z0-9]*$`)

// loadConfig reads dir as Trino reads /etc/trino.
func loadConfig(dir string, getenv func(string) (string, bool)) (*config, error) {
	node, err := readProperties(filepath.Join(dir, "node.properties"), getenv, true)
	if err != nil {
		return nil, err
	}
	server, err := readProperties(filepath.Join(dir, "config.properties"), getenv, true)
	if err != nil {
		return nil, err
	}
	c := &config{bindIP: orDefault(node["node.bind-ip"], "0.0.0.0")}
	if err := c.nodeOptions(node); err != nil {
		return nil, err
	}
	if err := c.serverOptions(server); err != nil {
		return nil, err
	}
	if err := c.authentication(dir, server, getenv); err != nil {
		return nil, err
	}
	if err := c.internalCommunication(server); err != nil {
		return nil, err
	}
	if err := c.accessControl(dir, getenv); err != nil {
		return nil, err
	}
	host := node["node.internal-address"]
	if host == "" && c.bindIP != "0.0.0.0" {
		host = c.bindIP
	}
	if host == "" {
		host = localIP()
	}
	c.opts.InternalURI = "http://" + net.JoinHostPort(host, strconv.Itoa(c.port))
	if c.opts.InternalHTTPS {
		c.opts.InternalURI = "https://" + net.JoinHostPort(host, strconv.Itoa(c.httpsPort))
	}
	return c, nil
}

// internalCommunication reads the HTTP, HTTPS and internal communication
// settings and refuses what Trino refuses at start. HTTPS comes from a PEM
// keystore (http-server.https.keystore.path, key and chain in one file), or,
// with internal-communication.https.required=true and no internal keystore
// or truststore, from Trino's automatic internal HTTPS. With
// http-server.http.enabled=false no plaintext port is opened.
func (c *config) internalCommunication(p map[string]string) error {
	httpsEnabled, err := boolProperty(p, "http-server.https.enabled", false)
	if err != nil {
		return err
	}
	httpsRequired, err := boolProperty(p, "internal-communication.https.required", false)
	if err != nil {
		return err
	}
	httpEnabled, err := boolProperty(p, "http-server.http.enabled", true)
	if err != nil {
		return err
	}
	secret := p["internal-communication.shared-secret"]
	o := &c.opts
	o.SharedSecret, o.HTTPDisabled, o.InternalHTTPS = secret, !httpEnabled, httpsRequired
	o.KeystorePath, o.TruststorePath = p["http-server.https.keystore.path"], p["http-server.https.truststore.path"]
	o.InternalKeystorePath, o.InternalTruststorePath = p["internal-communication.https.keystore.path"], p["internal-communication.https.truststore.path"]
	automatic := httpsRequired && o.InternalKeystorePath == "" && o.InternalTruststorePath == ""
	for _, k := range []string{"http-server.https.keystore.key", "http-server.https.truststore.key", "internal-communication.https.keystore.key", "internal-communication.https.truststore.key"} {
		if _, ok := p[k]; ok {
			return fmt.Errorf("config.properties: %s: trinotestd reads only PEM files with an unencrypted key, which need no password; remove it", k)
		}
	}
	if !httpsEnabled {
		for _, k := range []string{"http-server.https.keystore.path", "http-server.https.truststore.path"} {
			if _, ok := p[k]; ok {
				return fmt.Errorf("config.properties: Configuration property '%s' was not used (http-server.https.enabled is false)", k)
			}
		}
	}
	switch {
	case automatic && secret == "":
		return fmt.Errorf("config.properties: Internal shared secret must be set when internal HTTPS is enabled (internal-communication.shared-secret)")
	case httpsRequired && secret == "":
		return fmt.Errorf("config.properties: Invalid configuration property internal-communication.https.required: Internal shared secret is required when HTTPS is enabled for internal communications (internal-communication.shared-secret)")
	case httpsRequired && !httpsEnabled:
		return fmt.Errorf("config.properties: Invalid configuration property internal-communication.https.required: HTTPS must be enabled when HTTPS is required for internal communications. Set http-server.https.enabled=true")
	case httpsEnabled && o.KeystorePath == "" && !automatic:
		return fmt.Errorf("config.properties: Invalid configuration property http-server.https.enabled: Keystore path or automatic HTTPS shared secret must be provided when HTTPS is enabled (set http-server.https.keystore.path, or internal-communication.https.required=true and internal-communication.shared-secret)")
	case !httpEnabled && !httpsEnabled:
		return fmt.Errorf("config.properties: http-server.http.enabled=false and http-server.https.enabled=false: the server would open no port")
	case c.opts.PasswordFile != nil && secret == "":
		return fmt.Errorf("config.properties: Shared secret (internal-communication.shared-secret) is required when authentication is enabled")
	}
	c.httpsEnabled = httpsEnabled
	if c.httpsPort, err = strconv.Atoi(orDefault(p["http-server.https.port"], "8443")); err != nil {
		return fmt.Errorf("config.properties: http-server.https.port=%s: not a port number", p["http-server.https.port"])
	}
	return nil
}

func (c *config) nodeOptions(node map[string]string) error {
	env := node["node.environment"]
	switch {
	case env == "":
		return fmt.Errorf("node.properties: Invalid configuration property node.environment: must not be null")
	case !environmentPattern.MatchString(env):
		return fmt.Errorf("node.properties: Invalid configuration property node.environment: must match %q", environmentPattern.String()[1:len(environmentPattern.String())-1])
	}
	c.opts.Environment, c.opts.NodeID = env, node["node.id"]
	return nil
}

func (c *config) serverOptions(p map[string]string) error {
	for k := range p {
		if msg, ok := rejectedProperties[k]; ok {
			return fmt.Errorf("config.properties: %s", msg)
		}
	}
	var err error
	if c.opts.Coordinator, err = boolProperty(p, "coordinator", true); err != nil {
		return err
	}
	if c.opts.ProcessForwarded, err = boolProperty(p, "http-server.process-forwarded", false); err != nil {
		return err
	}
	if c.port, err = strconv.Atoi(orDefault(p["http-server.http.port"], "8080")); err != nil {
		return fmt.Errorf("config.properties: http-server.http.port=%s: not a port number", p["http-server.http.port"])
	}
	if c.opts.GracePeriod, err = airliftDuration(orDefault(p["shutdown.grace-period"], "2m")); err != nil {
		return fmt.Errorf("config.properties: shutdown.grace-period: %w", err)
	}
	if v, ok := p["http-server.https.ssl-context.refresh-time"]; ok {
		if c.opts.SSLContextRefresh, err = airliftDuration(v); err != nil {
			return fmt.Errorf("config.properties: http-server.https.ssl-context.refresh-time: %w", err)
		}
	}
	c.opts.DiscoveryURI = p["discovery.uri"]
	c.opts.DiscoveryType = strings.ToUpper(orDefault(p["discovery.type"], trinotest.DiscoveryAnnounce))
	return nil
}

// authentication reads the password file when
// http-server.authentication.type includes PASSWORD.
func (c *config) authentication(dir string, server map[string]string, getenv func(string) (string, bool)) error {
	allowInsecure, err := boolProperty(server, "http-server.authentication.allow-insecure-over-http", true)
	if err != nil {
		return err
	}
	c.opts.DenyInsecureOverHTTP = !allowInsecure
	if !strings.Contains(strings.ToUpper(server["http-server.authentication.type"]), "PASSWORD") {
		return nil
	}
	p, err := readProperties(filepath.Join(dir, "password-authenticator.properties"), getenv, true)
	if err != nil {
		return err
	}
	if name := p["password-authenticator.name"]; name != "file" {
		return fmt.Errorf("password-authenticator.properties: password-authenticator.name=%q: trinotestd supports only file", name)
	}
	path := p["file.password-file"]
	if path == "" {
		return fmt.Errorf("password-authenticator.properties: file.password-file is required")
	}
	if c.opts.PasswordFile, err = os.ReadFile(path); err != nil {
		return fmt.Errorf("password-authenticator.properties: file.password-file: %w", err)
	}
	return nil
}

// accessControl reads rules.json when access-control.properties names the
// file access control; without that file Trino allows everything.
func (c *config) accessControl(dir string, getenv func(string) (string, bool)) error {
	p, err := readProperties(filepath.Join(dir, "access-control.properties"), getenv, false)
	if err != nil {
		return err
	}
	if p == nil || p["access-control.name"] == "allow-all" {
		c.opts.Impersonation = []trinotest.ImpersonationRule{{OriginalUser: ".*", NewUser: ".*"}}
		c.opts.SystemInformation = []trinotest.SystemInformationRule{{User: ".*", Allow: []string{"read", "write"}}}
		return nil
	}
	if name := p["access-control.name"]; name != "file" {
		return fmt.Errorf("access-control.properties: access-control.name=%q: trinotestd supports file and allow-all", name)
	}
	if err := checkFileAccessControlProperties(p); err != nil {
		return err
	}
	if c.opts.AccessControl, err = trinotest.LoadAccessControl(p["security.config-file"]); err != nil {
		return fmt.Errorf("access-control.properties: security.config-file: %w", err)
	}
	b, err := os.ReadFile(p["security.config-file"])
	if err != nil {
		return fmt.Errorf("access-control.properties: security.config-file: %w", err)
	}
	if c.opts.Impersonation, err = trinotest.LoadRules(b); err != nil {
		return err
	}
	c.opts.SystemInformation, err = trinotest.LoadSystemInformationRules(b)
	return err
}

var envPlaceholder = regexp.MustCompile(`\$\{ENV:([^}]*)\}`)

// readProperties reads a Java properties file (key=value, # and ! comments)
// and resolves ${ENV:VAR} placeholders. A missing optional file gives nil.
func readProperties(path string, getenv func(string) (string, bool), required bool) (map[string]string, error) {
	f, err := os.Open(path)
	if os.IsNotExist(err) && !required {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Base(path), err)
	}
	defer f.Close()
	props := map[string]string{}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' || line[0] == '!' {
			continue
		}
		key, value, ok := strings.Cut(line, "=")
		if !ok {
			return nil, fmt.Errorf("%s:%d: want key=value", filepath.Base(path), n)
		}
		var missing string
		value = envPlaceholder.ReplaceAllStringFunc(strings.TrimSpace(value), func(m string) string {
			name := envPlaceholder.FindStringSubmatch(m)[1]
			v, ok := getenv(name)
			if !ok {
				missing = name
			}
			return v
		})
		if missing != "" {
			return nil, fmt.Errorf("%s:%d: %s: Environment variable is not set: %s", filepath.Base(path), n, strings.TrimSpace(key), missing)
		}
		props[strings.TrimSpace(key)] = value
	}
	return props, sc.Err()
}

func boolProperty(p map[string]string, key string, def bool) (bool, error) {
	v, ok := p[key]
	if !ok {
		return def, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, fmt.Errorf("config.properties: %s=%s: want true or false", key, v)
	}
	return b, nil
}

var durationRE = regexp.MustCompile(`^(\d+(?:\.\d+)?)\s*(ns|us|ms|s|m|h|d)$`)

// airliftDuration parses an airlift Duration such as "30s" or "2m".
func airliftDuration(s string) (time.Duration, error) {
	m := durationRE.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return 0, fmt.Errorf("%q is not a duration such as 30s or 2m", s)
	}
	v, _ := strconv.ParseFloat(m[1], 64)
	unit := map[string]time.Duration{"ns": time.Nanosecond, "us": time.Microsecond, "ms": time.Millisecond,
		"s": time.Second, "m": time.Minute, "h": time.Hour, "d": 24 * time.Hour}[m[2]]
	return time.Duration(v * float64(unit)), nil
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// localIP is the first non-loopback IPv4 address, as Trino picks its
// internal address by default.
func localIP() string {
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if ip, ok := a.(*net.IPNet); ok && !ip.IP.IsLoopback() && ip.IP.To4() != nil {
			return ip.IP.String()
		}
	}
	return "127.0.0.1"
}
