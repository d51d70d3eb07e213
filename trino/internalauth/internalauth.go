package internalauth

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// InternalBearerHeader carries the internal JWT.
const InternalBearerHeader = "X-Trino-Internal-Bearer"

// InternalJWTLifetime is how long an internal JWT is valid, as Trino makes it.
const InternalJWTLifetime = 5 * time.Minute

var b64 = base64.RawURLEncoding

// jwtHeader is what jjwt writes for an HMAC-SHA256 signed token.
var jwtHeader = b64.EncodeToString([]byte(`{"alg":"HS256"}`))

// InternalKey is the HMAC key: the SHA-256 of the secret's UTF-8 bytes.
func InternalKey(secret string) []byte {
	k := sha256.Sum256([]byte(secret))
	return k[:]
}

type internalClaims struct {
	Subject    string `json:"sub"`
	Expiration int64  `json:"exp,omitempty"` // seconds since the epoch
}

// SignInternal returns the internal bearer token of node nodeID.
func SignInternal(key []byte, nodeID string, now time.Time) string {
	claims, _ := json.Marshal(internalClaims{Subject: nodeID, Expiration: now.Add(InternalJWTLifetime).Unix()})
	signed := jwtHeader + "." + b64.EncodeToString(claims)
	return signed + "." + b64.EncodeToString(hmacSHA256(key, signed))
}

func hmacSHA256(key []byte, data string) []byte {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(data))
	return mac.Sum(nil)
}

// VerifyInternal verifies token as jjwt's parser does with an HMAC key:
// algorithm HS256, a valid signature, not expired. It returns the subject.
// Its errors never contain the token.
func VerifyInternal(key []byte, token string, now time.Time) (string, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return "", errors.New("malformed JWT: want header.claims.signature")
	}
	var header struct {
		Alg string `json:"alg"`
	}
	if b, err := b64.DecodeString(parts[0]); err != nil || json.Unmarshal(b, &header) != nil {
		return "", errors.New("malformed JWT header")
	}
	if header.Alg != "HS256" {
		return "", fmt.Errorf("JWT algorithm %q: want HS256", header.Alg)
	}
	sig, err := b64.DecodeString(parts[2])
	if err != nil || subtle.ConstantTimeCompare(sig, hmacSHA256(key, parts[0]+"."+parts[1])) != 1 {
		return "", errors.New("JWT signature does not match locally computed signature (is internal-communication.shared-secret the same on every node?)")
	}
	var claims internalClaims
	if b, err := b64.DecodeString(parts[1]); err != nil || json.Unmarshal(b, &claims) != nil {
		return "", errors.New("malformed JWT claims")
	}
	if claims.Expiration != 0 && !now.Before(time.Unix(claims.Expiration, 0)) {
		return "", fmt.Errorf("JWT expired at %s", time.Unix(claims.Expiration, 0).UTC().Format(time.RFC3339))
	}
	return claims.Subject, nil
}
