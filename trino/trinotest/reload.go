package trinotest

import (
	"crypto/tls"
	"log/slog"
	"sync"
	"time"
)

// DefaultSSLContextRefresh is http-server.https.ssl-context.refresh-time's
// default: how often airlift's HTTP server reads its keystore and
// truststore again (ReloadableSslContextFactoryProvider), so that a renewed
// certificate is served without a restart.
const DefaultSSLContextRefresh = time.Minute

// reloadingTLS is the HTTPS server's TLS with airlift's reload: a handshake
// at least refresh after the last load reads the keystore and truststore
// again; a file that cannot be read keeps the last good configuration and
// logs airlift's warning. Established connections keep their certificate.
// (airlift reloads on a timer; reloading at the next handshake serves the
// same certificate to every client and needs no goroutine.)
//
// The internal client's keystore is read once, as airlift's HTTP client
// does (JettyHttpClient loads internal-communication.https.keystore.path
// when it is made).
type reloadingTLS struct {
	keystore, truststore string
	refresh              time.Duration
	log                  *slog.Logger

	mu     sync.Mutex
	conf   *tls.Config
	loaded time.Time
}

func (r *reloadingTLS) configForClient(*tls.ClientHelloInfo) (*tls.Config, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if time.Since(r.loaded) < r.refresh {
		return r.conf, nil
	}
	r.loaded = time.Now()
	conf, err := serverTLS(r.keystore, r.truststore)
	if err != nil {
		r.log.Warn("Unable to reload SslContext.", "error", err)
		return r.conf, nil
	}
	r.conf = conf
	return conf, nil
}

// serverTLS is the HTTPS server's TLS from its keystore and truststore.
func serverTLS(keystore, truststore string) (*tls.Config, error) {
	cert, err := loadKeystore(keystore)
	if err != nil {
		return nil, err
	}
	conf := &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert},
		// Jetty's setWantClientAuth(true): a client certificate is asked
		// for, verified when given, never required.
		ClientAuth: tls.VerifyClientCertIfGiven}
	if truststore != "" {
		if conf.ClientCAs, err = loadTruststore(truststore); err != nil {
			return nil, err
		}
	}
	return conf, nil
}
