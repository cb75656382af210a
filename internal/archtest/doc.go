// Package archtest holds tests that keep the layout rules of
// ARCHITECTURE.md true: what each ring may import.
package archtest
