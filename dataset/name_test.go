package dataset

import (
	"errors"
	"strings"
	"testing"
)

func TestValidateName(t *testing.T) {
	tests := []struct {
		name string
		ok   bool
		rule string // substring of the error
	}{
		{"a", true, ""},
		{"sky-survey_2.0", true, ""},
		{"lab/sky/survey", true, ""},
		{"0day", true, ""},
		{strings.Repeat("a", 128), true, ""},
		{"", false, "empty"},
		{strings.Repeat("a", 129), false, "longer than 128"},
		{"Sky", false, "not one of"},
		{"a b", false, "not one of"},
		{"a@b", false, "not one of"},
		{"é", false, "not one of"},
		{"/a", false, "start or end with '/'"},
		{"a/", false, "start or end with '/'"},
		{".a", false, "start with a letter or digit"},
		{"-a", false, "start with a letter or digit"},
		{"_a", false, "start with a letter or digit"},
		{"a//b", false, "empty segment"},
		{"a/./b", false, `"." segment`},
		{"a/..", false, `".." segment`},
		{"a/../b", false, `".." segment`},
		{"a/.b", true, ""},
		{"a/...", true, ""},
	}
	for _, tt := range tests {
		err := ValidateName(tt.name)
		if tt.ok {
			if err != nil {
				t.Errorf("ValidateName(%q) = %v, want nil", tt.name, err)
			}
			continue
		}
		if !errors.Is(err, ErrInvalidName) || !strings.Contains(err.Error(), tt.rule) {
			t.Errorf("ValidateName(%q) = %v, want ErrInvalidName mentioning %q", tt.name, err, tt.rule)
		}
	}
}

func TestParseRef(t *testing.T) {
	tests := []struct {
		in      string
		name    string
		version uint64
		wantErr error
	}{
		{"sky", "sky", 0, nil},
		{"sky@1", "sky", 1, nil},
		{"lab/sky@42", "lab/sky", 42, nil},
		{"sky@18446744073709551615", "sky", 18446744073709551615, nil},
		{"sky@18446744073709551616", "", 0, ErrInvalidRef},
		{"sky@0", "", 0, ErrInvalidRef},
		{"sky@00", "", 0, ErrInvalidRef},
		{"sky@", "", 0, ErrInvalidRef},
		{"sky@x", "", 0, ErrInvalidRef},
		{"sky@-1", "", 0, ErrInvalidRef},
		{"sky@+1", "", 0, ErrInvalidRef},
		{"sky@1@2", "", 0, ErrInvalidRef},
		{"sky@ 1", "", 0, ErrInvalidRef},
		{"@1", "", 0, ErrInvalidName},
		{"", "", 0, ErrInvalidName},
		{"Sky@1", "", 0, ErrInvalidName},
	}
	for _, tt := range tests {
		name, v, err := ParseRef(tt.in)
		if tt.wantErr != nil {
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("ParseRef(%q) error = %v, want %v", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil || name != tt.name || v != tt.version {
			t.Errorf("ParseRef(%q) = %q, %d, %v; want %q, %d", tt.in, name, v, err, tt.name, tt.version)
		}
	}
}
