package app

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// lookupFrom is an environment where a key present with "" is set to empty.
func lookupFrom(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestConfigEmptyEnvMeansEmpty(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		metrics string
		wantErr string
	}{
		{"unset keeps the default", map[string]string{}, "127.0.0.1:9091", ""},
		{"empty turns metrics off", map[string]string{"GATEHOUSE_METRICS_ADDR": ""}, "", ""},
		{"empty TLS settings stay empty", map[string]string{"GATEHOUSE_TLS_CERT": "", "GATEHOUSE_TLS_KEY": ""}, "127.0.0.1:9091", ""},
		{"empty where a value is needed is refused by name", map[string]string{"GATEHOUSE_SESSION_IDLE": ""}, "", "GATEHOUSE_SESSION_IDLE"},
		{"empty database URL is refused by name", map[string]string{"GATEHOUSE_DATABASE_URL": ""}, "", "GATEHOUSE_DATABASE_URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _, err := ParseConfigEnv(nil, lookupFrom(tt.env), io.Discard)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one naming %s", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.MetricsAddr != tt.metrics {
				t.Fatalf("MetricsAddr = %q, want %q", c.MetricsAddr, tt.metrics)
			}
		})
	}
	// The getenv form (tests, embedders) still treats "" as unset.
	c, _, err := ParseConfig(nil, envFrom(map[string]string{"GATEHOUSE_METRICS_ADDR": ""}), io.Discard)
	if err != nil || c.MetricsAddr != "127.0.0.1:9091" {
		t.Fatalf("getenv form: %v %q", err, c.MetricsAddr)
	}
}

func TestConfigSQLiteURLs(t *testing.T) {
	tests := []struct {
		url, keys, wantErr string
	}{
		{"sqlite:gatehouse.db", "gatehouse.keys", ""},
		{"sqlite://gatehouse.db", "gatehouse.keys", ""}, // once gave /gatehouse.keys
		{"sqlite:data/g.db", "data/gatehouse.keys", ""},
		{"sqlite://data/g.db", "data/gatehouse.keys", ""},
		{"sqlite:/var/lib/g/g.db", "/var/lib/g/gatehouse.keys", ""},
		{"sqlite:///var/lib/g/g.db", "/var/lib/g/gatehouse.keys", ""},
		{"sqlite::memory:", "gatehouse.keys", ""},
		{"sqlite:", "", "GATEHOUSE_DATABASE_URL"},
		{"sqlite://", "", "GATEHOUSE_DATABASE_URL"},
		{"sqlite:g.db?mode=ro", "", "GATEHOUSE_DATABASE_URL"},
		{"sqlite:file:g.db", "", "GATEHOUSE_DATABASE_URL"},
		{"sqlite:data/", "", "GATEHOUSE_DATABASE_URL"},
		{"mysql://u:secret@h/db", "", "GATEHOUSE_DATABASE_URL"},
		{"gatehouse.db", "", "GATEHOUSE_DATABASE_URL"},
	}
	for _, tt := range tests {
		c, _, err := ParseConfigEnv([]string{"--database-url", tt.url}, lookupFrom(nil), io.Discard)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || strings.Contains(err.Error(), "secret") {
				t.Errorf("%s: err = %v, want one naming %s (and no password)", tt.url, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tt.url, err)
			continue
		}
		if c.KeysFile != tt.keys {
			t.Errorf("%s: keys file %q, want %q", tt.url, c.KeysFile, tt.keys)
		}
	}
}

// TestCommandLineSQLiteSlashes runs the real command line: the keys file
// lands beside the database whatever the spelling of its URL.
func TestCommandLineSQLiteSlashes(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	env := lookupFrom(map[string]string{"GATEHOUSE_DATABASE_URL": "sqlite://sub/gatehouse.db", "GATEHOUSE_METRICS_ADDR": ""})
	if err := os.Mkdir("sub", 0o700); err != nil {
		t.Fatal(err)
	}
	for _, cmd := range [][]string{{"migrate"}, {"keys", "list"}} {
		if err := RunEnv(context.Background(), cmd, env, strings.NewReader(""), io.Discard, io.Discard); err != nil {
			t.Fatal(cmd, err)
		}
	}
	for _, p := range []string{"sub/gatehouse.db", "sub/gatehouse.keys"} {
		if _, err := os.Stat(filepath.Join(dir, p)); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
	if _, err := os.Stat("/gatehouse.keys"); err == nil && !existedBefore {
		t.Error("a keys file was written to /")
	}
}

// existedBefore records whether /gatehouse.keys was there before the tests,
// so the check above cannot blame this run for someone else's file.
var existedBefore = func() bool { _, err := os.Stat("/gatehouse.keys"); return err == nil }()

func TestStartupErrorNamesTheSettingOnce(t *testing.T) {
	t.Chdir(t.TempDir())
	env := lookupFrom(map[string]string{"GATEHOUSE_DATABASE_URL": "postgres://postgres:hunter2@127.0.0.1:1/test?connect_timeout=2"})
	err := RunEnv(context.Background(), []string{"migrate"}, env, strings.NewReader(""), io.Discard, io.Discard)
	if err == nil {
		t.Fatal("migrate against a closed port succeeded")
	}
	msg := err.Error()
	if !strings.HasPrefix(msg, "setting GATEHOUSE_DATABASE_URL (--database-url): ") || strings.Contains(msg, "\n") ||
		strings.Contains(msg, "hunter2") || strings.Contains(msg, "db: ping") || strings.Count(msg, "connection refused") != 1 {
		t.Fatalf("error = %q: want one line naming the setting, once, without the password", msg)
	}
}
