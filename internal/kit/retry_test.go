package kit

import (
	"fmt"
	"testing"
)

func TestRetryText(t *testing.T) {
	for in, want := range map[string]string{
		"0": "Try again in a second.", "1": "Try again in a second.", "5": "Try again in 5 seconds.",
		"60": "Try again in 1 minute.", "61": "Try again in 2 minutes.", "360": "Try again in 6 minutes.",
		"3600": "Try again in 1 hour.", "7200": "Try again in 2 hours.", "259200": "Try again in 3 days.",
		"": "", "-1": "", "soon": "", "Wed, 21 Oct 2015 07:28:00 GMT": "",
	} {
		if got := RetryText(in); got != want {
			t.Errorf("RetryText(%q) = %q, want %q", in, got, want)
		}
	}
}

func ExampleRetryText() {
	fmt.Println(RetryText("331"))
	// Output: Try again in 6 minutes.
}
