//go:build ignore

// gen_common turns the frequency-ranked password list of the npm package
// @zxcvbn-ts/language-common (MIT licence, https://github.com/zxcvbn-ts/zxcvbn)
// into common_passwords.txt: one password a line, most common first,
// lowercased, duplicates and entries with control characters dropped.
//
// Run gen_common.sh, which fetches the package with npm pack and runs:
//
//	go run gen_common.go PATH/package/src/passwords.json > common_passwords.txt
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"unicode"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: go run gen_common.go passwords.json > common_passwords.txt")
		os.Exit(2)
	}
	data, err := os.ReadFile(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	var list []string
	if err := json.Unmarshal(data, &list); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	w := bufio.NewWriter(os.Stdout)
	seen := make(map[string]bool, len(list))
	n := 0
	for _, pw := range list {
		pw = strings.ToLower(pw)
		if pw == "" || seen[pw] || strings.IndexFunc(pw, unicode.IsControl) >= 0 {
			continue
		}
		seen[pw] = true
		w.WriteString(pw)
		w.WriteByte('\n')
		n++
	}
	if err := w.Flush(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "wrote %d passwords\n", n)
}
