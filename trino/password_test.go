package trino

import (
	"fmt"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

// bcrypt output is salted, so no golden: each hash is verified instead.
func TestPasswordFile(t *testing.T) {
	users := testUsers()
	data, err := PasswordFile(users, MinBcryptCost)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	if len(lines) != len(users) {
		t.Fatalf("%d lines for %d users:\n%s", len(lines), len(users), data)
	}
	for i, u := range users {
		name, hash, _ := strings.Cut(lines[i], ":")
		if name != u.Name || !strings.HasPrefix(hash, "$2y$08$") {
			t.Errorf("line %d = %s:%s…, want %s:$2y$08$…", i+1, name, hash[:7], u.Name)
		}
		if err := bcrypt.CompareHashAndPassword([]byte(hash), []byte(u.Password)); err != nil {
			t.Errorf("hash of %s does not verify: %v", u.Name, err)
		}
		if bcrypt.CompareHashAndPassword([]byte(hash), []byte(u.Password+"x")) == nil {
			t.Errorf("hash of %s accepts a wrong password", u.Name)
		}
		if strings.Contains(string(data), u.Password) {
			t.Errorf("the file contains %s's password in clear", u.Name)
		}
	}
	if err := CheckPasswordFile(data, users); err != nil {
		t.Errorf("CheckPasswordFile on a fresh file: %v", err)
	}
	changed := testUsers()
	changed[2].Password = "another"
	if err := CheckPasswordFile(data, changed); err == nil || err.Error() != "password file: the hash for alice does not match its password" {
		t.Errorf("CheckPasswordFile after a password change: %v", err)
	}
	if err := CheckPasswordFile(data, users[:2]); err == nil {
		t.Error("CheckPasswordFile accepted a file with extra users")
	}
	a, _ := bcrypt.GenerateFromPassword([]byte("x"), 8)
	if err := CheckPasswordFile([]byte("moat:"+string(a)+"\n"), []User{{Name: "moat", Password: "x"}}); err == nil {
		t.Error("CheckPasswordFile accepted a $2a$ hash, which Trino cannot read")
	}
}

func TestPasswordFileDefaultCostAndErrors(t *testing.T) {
	data, err := PasswordFile([]User{{Name: "moat", Password: "fake-moat-pw-c4b8"}}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(data), "moat:$2y$10$") {
		t.Errorf("default cost: %s", data)
	}
	for _, tc := range []struct {
		users []User
		cost  int
		want  string
	}{
		{[]User{{Name: "moat", Password: "p"}}, 7, "bcrypt cost 7: Trino needs 8 to 31"},
		{[]User{{Name: "Moat", Password: "p"}}, 8, `trino user "Moat": use lowercase letters, digits, _, . and -, starting with a letter`},
		{[]User{{Name: "moat", Password: ""}}, 8, "trino user moat has an empty password"},
		{[]User{{Name: "moat", Password: "p"}, {Name: "moat", Password: "q"}}, 8, `trino user "moat" is declared twice`},
		{[]User{{Name: "moat", Password: strings.Repeat("s", 73)}}, 8, "trino user moat: the password is longer than bcrypt's 72 bytes"},
	} {
		if _, err := PasswordFile(tc.users, tc.cost); err == nil || err.Error() != tc.want {
			t.Errorf("got %v, want %q", err, tc.want)
		}
	}
}

// BenchmarkPasswordFile shows what the bcrypt cost costs, side by side.
func BenchmarkPasswordFile(b *testing.B) {
	users := testUsers()
	for _, cost := range []int{MinBcryptCost, DefaultBcryptCost} {
		b.Run(fmt.Sprintf("cost=%d", cost), func(b *testing.B) {
			for b.Loop() {
				if _, err := PasswordFile(users, cost); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkRenderNode measures rendering one node's files.
func BenchmarkRenderNode(b *testing.B) {
	c := testCluster(3)
	for b.Loop() {
		if _, err := RenderNode(c, c.Workers[0]); err != nil {
			b.Fatal(err)
		}
	}
}
