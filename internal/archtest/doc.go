// Package archtest holds tests that keep the layout rules of
// docs/architecture.md true: what each ring may import, and that features
// import neither each other nor internal/app, which alone imports them.
package archtest
