//go:build race

package account_test

const raceEnabled = true
