package passkeytest_test

import (
	"encoding/json"
	"fmt"

	"github.com/gatehouse/gatehouse/internal/account/passkeytest"
)

// The authenticator answers the options a server sent (here written by
// hand) with the JSON a browser would post back.
func Example() {
	a := &passkeytest.Authenticator{Origin: "https://login.example.com"}
	options := []byte(`{"publicKey":{"challenge":"AAAAAAAAAAAAAAAAAAAAAA","rp":{"id":"login.example.com"},"user":{"id":"dXNlcg"}}}`)
	answer, cred, err := a.Create(options)
	if err != nil {
		panic(err)
	}
	var v struct {
		Type     string
		Response map[string]any
	}
	_ = json.Unmarshal(answer, &v)
	fmt.Println(v.Type, len(cred.ID), string(cred.UserHandle), v.Response["attestationObject"] != nil)

	signIn := []byte(`{"publicKey":{"challenge":"BBBBBBBBBBBBBBBBBBBBBB","rpId":"login.example.com"}}`)
	if _, err := a.Get(signIn); err != nil {
		panic(err)
	}
	fmt.Println(cred.Counter)
	// Output:
	// public-key 32 user true
	// 1
}
