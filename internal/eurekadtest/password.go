package eurekadtest

import (
	"testing"

	"golang.org/x/crypto/bcrypt"
)

// PasswordHash returns password's bcrypt hash at the lowest cost, for a
// static authenticator's password_bcrypt in a test's configuration.
func PasswordHash(t testing.TB, password string) string {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return string(h)
}
