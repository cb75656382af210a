package app

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/gatehouse/gatehouse/internal/testenv"
)

// chrome is a headless Chromium tab driven by chromedp for one test.
type chrome struct {
	t   *testing.T
	ctx context.Context

	mu   sync.Mutex
	msgs []string
}

// newChrome starts a headless Chromium for one test, with any extra options;
// it is closed at cleanup.
// Every console message and browser log entry is kept for failOnCSP.
func newChrome(t *testing.T, extra ...chromedp.ExecAllocatorOption) *chrome {
	t.Helper()
	return newChromeFor(t, 120*time.Second, extra...)
}

// newChromeFor is newChrome with a limit on the whole test's browsing.
func newChromeFor(t *testing.T, limit time.Duration, extra ...chromedp.ExecAllocatorOption) *chrome {
	t.Helper()
	path := testenv.ChromiumPath(t)
	opts := append([]chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.WindowSize(1024, 900),
	}, extra...)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(allocCtx)
	ctx, cancelTimeout := context.WithTimeout(ctx, limit)
	t.Cleanup(func() { cancelTimeout(); cancelCtx(); cancelAlloc() })
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	c := &chrome{t: t, ctx: ctx}
	messages := chromedp.Console(ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			c.mu.Lock()
			c.msgs = append(c.msgs, string(m.Type)+" "+m.Source+": "+m.Text)
			c.mu.Unlock()
		}
	}()
	return c
}

// do runs steps, failing the test with what on error.
func (c *chrome) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	c.t.Helper()
	if err := chromedp.Do(c.ctx, steps...); err != nil {
		c.t.Fatalf("%s: %v\nconsole: %v", what, err, c.messages())
	}
}

// text returns the visible text of the first element matching sel.
func (c *chrome) text(sel string) string {
	c.t.Helper()
	s, err := chromedp.Run(c.ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		c.t.Fatalf("text of %s: %v", sel, err)
	}
	return s
}

// location returns the current URL.
func (c *chrome) location() string {
	c.t.Helper()
	s, err := chromedp.Run(c.ctx, chromedp.Location())
	if err != nil {
		c.t.Fatalf("location: %v", err)
	}
	return s
}

// eval evaluates a JavaScript expression returning a string.
func (c *chrome) eval(expr string) string {
	c.t.Helper()
	s, err := chromedp.Run(c.ctx, chromedp.Evaluate[string](expr))
	if err != nil {
		c.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return s
}

func (c *chrome) messages() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.msgs...)
}

// failOnCSP fails the test if the browser reported a Content Security Policy
// violation or an uncaught script error.
func (c *chrome) failOnCSP() {
	c.t.Helper()
	for _, m := range c.messages() {
		lm := strings.ToLower(m)
		if strings.Contains(lm, "content security policy") || strings.Contains(lm, "content-security-policy") || strings.HasPrefix(lm, "exception") {
			c.t.Errorf("browser reported: %s", m)
		}
	}
}

// fill types values into inputs (CSS selector, value pairs), emptying each
// first (the sign-in form may start with an address), and clicks the
// element matching submit.
func fill(submit string, fields ...string) chromedp.Action[chromedp.Void] {
	var steps []chromedp.Action[chromedp.Void]
	for i := 0; i+1 < len(fields); i += 2 {
		steps = append(steps, clearField(fields[i]), chromedp.SendKeys(chromedp.CSS(fields[i]), fields[i+1]))
	}
	steps = append(steps, chromedp.Click(chromedp.CSS(submit)))
	return chromedp.Steps(steps...)
}

// visible waits until an element matching sel is visible.
func visible(sel string) chromedp.Action[chromedp.Void] {
	return chromedp.WaitVisible(chromedp.CSS(sel))
}

// clearField empties the input matching sel.
func clearField(sel string) chromedp.Action[chromedp.Void] {
	q, _ := json.Marshal(sel)
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := chromedp.Evaluate[bool](`(e => { e.value = ""; return true })(document.querySelector(`+string(q)+`))`)(ctx, t)
		return err
	})
}
