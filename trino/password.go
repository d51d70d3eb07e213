package trino

import (
	"bufio"
	"bytes"
	"fmt"
	"strings"

	"golang.org/x/crypto/bcrypt"
)

// Password file limits. Trino accepts only bcrypt hashes with the $2y$
// prefix (EncryptionUtil.getHashingAlgorithm) and a cost of at least 8.
const (
	MinBcryptCost     = 8
	DefaultBcryptCost = 10
)

// PasswordFile writes password.db: one "user:bcrypt-hash" line per user, in
// the order given. Go's bcrypt writes $2a$; the algorithm is the same and
// Trino recognises only $2y$, so the prefix is rewritten. cost 0 means
// DefaultBcryptCost. Errors never contain a password.
func PasswordFile(users []User, cost int) ([]byte, error) {
	if cost == 0 {
		cost = DefaultBcryptCost
	}
	if cost < MinBcryptCost || cost > bcrypt.MaxCost {
		return nil, fmt.Errorf("bcrypt cost %d: Trino needs %d to %d", cost, MinBcryptCost, bcrypt.MaxCost)
	}
	var b bytes.Buffer
	seen := map[string]bool{}
	for _, u := range users {
		if err := checkUser(u, seen); err != nil {
			return nil, err
		}
		h, err := bcrypt.GenerateFromPassword([]byte(u.Password), cost)
		if err != nil {
			return nil, fmt.Errorf("hashing the password of %s: %w", u.Name, err)
		}
		fmt.Fprintf(&b, "%s:$2y$%s\n", u.Name, strings.TrimPrefix(string(h), "$2a$"))
	}
	return b.Bytes(), nil
}

func checkUser(u User, seen map[string]bool) error {
	switch {
	case !userNameRE.MatchString(u.Name):
		return fmt.Errorf("trino user %q: use lowercase letters, digits, _, . and -, starting with a letter", u.Name)
	case seen[u.Name]:
		return fmt.Errorf("trino user %q is declared twice", u.Name)
	case u.Password == "":
		return fmt.Errorf("trino user %s has an empty password", u.Name)
	case len(u.Password) > 72:
		return fmt.Errorf("trino user %s: the password is longer than bcrypt's 72 bytes", u.Name)
	}
	seen[u.Name] = true
	return nil
}

// CheckPasswordFile reports whether data is a password file Trino accepts
// that holds exactly users with their current passwords, so the caller can
// keep an existing file (and its salts) instead of writing a new one.
func CheckPasswordFile(data []byte, users []User) error {
	hashes := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for line := 1; sc.Scan(); line++ {
		name, hash, ok := strings.Cut(sc.Text(), ":")
		if !ok || !strings.HasPrefix(hash, "$2y$") {
			return fmt.Errorf("password file line %d: want user:$2y$... (bcrypt)", line)
		}
		if cost, err := bcrypt.Cost([]byte(hash)); err != nil || cost < MinBcryptCost {
			return fmt.Errorf("password file line %d (%s): bcrypt cost must be at least %d", line, name, MinBcryptCost)
		}
		hashes[name] = hash
	}
	if len(hashes) != len(users) {
		return fmt.Errorf("password file has %d users, want %d", len(hashes), len(users))
	}
	for _, u := range users {
		h, ok := hashes[u.Name]
		if !ok {
			return fmt.Errorf("password file has no line for %s", u.Name)
		}
		if bcrypt.CompareHashAndPassword([]byte(h), []byte(u.Password)) != nil {
			return fmt.Errorf("password file: the hash for %s does not match its password", u.Name)
		}
	}
	return nil
}
