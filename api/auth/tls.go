package auth

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"sync"
	"time"
)

// certReloader serves the listeners' certificate, re-reading the files when
// either one's modification time changes (checked at most once a second). A
// pair that fails to load keeps the previous certificate in force.
type certReloader struct {
	certFile, keyFile string
	onErr             func(error)

	mu struct {
		sync.Mutex
		cert            *tls.Certificate
		certMod, keyMod time.Time
		checked         time.Time
	}
}

func newCertReloader(certFile, keyFile string, onErr func(error)) (*certReloader, error) {
	r := &certReloader{certFile: certFile, keyFile: keyFile, onErr: onErr}
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.loadLocked(time.Now(), true); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *certReloader) getCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if now := time.Now(); now.Sub(r.mu.checked) >= time.Second {
		if err := r.loadLocked(now, false); err != nil {
			r.onErr(err)
		}
	}
	return r.mu.cert, nil
}

func (r *certReloader) loadLocked(now time.Time, force bool) error {
	r.mu.checked = now
	cm, err1 := modTime(r.certFile)
	km, err2 := modTime(r.keyFile)
	if err1 != nil || err2 != nil {
		return fmt.Errorf("api.tls: stat certificate or key: %v %v", err1, err2)
	}
	if !force && cm.Equal(r.mu.certMod) && km.Equal(r.mu.keyMod) {
		return nil
	}
	r.mu.certMod, r.mu.keyMod = cm, km // a bad pair is reported once per change
	cert, err := tls.LoadX509KeyPair(r.certFile, r.keyFile)
	if err != nil {
		return fmt.Errorf("api.tls.cert_file/key_file: %w", err)
	}
	r.mu.cert = &cert
	return nil
}

func modTime(path string) (time.Time, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return time.Time{}, err
	}
	return fi.ModTime(), nil
}

// serverTLS builds the listeners' TLS configuration (nil without a
// certificate). Client certificates are asked for and verified against the
// client CA when one is configured, never required: a caller may use a
// bearer token instead.
func serverTLS(c ServerTLS, onErr func(error)) (*tls.Config, error) {
	if c.CertFile == "" {
		return nil, nil
	}
	r, err := newCertReloader(c.CertFile, c.KeyFile, onErr)
	if err != nil {
		return nil, err
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: r.getCertificate}
	if c.ClientCAFile != "" {
		pem, err := os.ReadFile(c.ClientCAFile)
		if err != nil {
			return nil, fmt.Errorf("api.tls.client_ca_file: %w", err)
		}
		tc.ClientCAs = x509.NewCertPool()
		if !tc.ClientCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("api.tls.client_ca_file %s: no PEM certificate in it", c.ClientCAFile)
		}
		tc.ClientAuth = tls.VerifyClientCertIfGiven
	}
	return tc, nil
}
