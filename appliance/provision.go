package appliance

import (
	"moat/appliance/config"
)

// Provision makes, and saves, everything the plan of c needs that does not
// exist yet: secrets, moat's CA and certificates, and Trino's password
// file. Only `moat up` provisions; every other command plans with what is
// there.
func Provision(c *config.Config, sec *Secrets) error {
	if sec.ReadOnly() {
		return ErrSecretsReadOnly
	}
	// The plan's own code asks for what it needs: on secrets that may
	// change, each request makes what is missing.
	if _, err := planBuiltin(c, sec, nil); err != nil {
		return err
	}
	if c.Trino.Enabled {
		if err := writePasswordFile(c, sec); err != nil {
			return err
		}
	}
	return sec.Save()
}
