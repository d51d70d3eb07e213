// Package internalauth is Trino's internal authentication, as Trino's
// InternalAuthenticationManager does it: every request one node sends another carries X-Trino-Internal-Bearer, a
// JWT signed HS256 with the SHA-256 of internal-communication.shared-secret
// (the environment name when no secret is configured), subject the sender's
// node.id, expiring 5 minutes after it was made. Trino accepts such requests
// before its HTTP/HTTPS and password checks, so moat, which holds the shared
// secret, uses it for node management (graceful shutdown) without sending
// any password; trino/trinotest verifies it the same way.
//
// It imports nothing of moat.
//
// Imported by: trino and trino/trinotest.
package internalauth
