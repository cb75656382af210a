package mail_test

import (
	"context"
	"database/sql"
	"fmt"
	"log"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/gatehouse/gatehouse/internal/mail"
	_ "modernc.org/sqlite"
)

func ExampleParseSMTPURL() {
	cfg, err := mail.ParseSMTPURL("smtp://apikey:s3cret@smtp.example.com:587?timeout=10s")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(cfg.Host, cfg.Port, cfg.TLS, cfg.Timeout, cfg.Insecure())
	fmt.Println(cfg.Redacted())

	dev, _ := mail.ParseSMTPURL("smtp://localhost:1025?starttls=none")
	fmt.Println(dev.TLS, dev.Insecure())
	// Output:
	// smtp.example.com 587 required 10s false
	// smtp://apikey:xxxxx@smtp.example.com:587?timeout=10s
	// insecure-none true
}

func ExampleResolveFrom() {
	from, _ := mail.ResolveFrom("", "https://auth.example.com")
	fmt.Println(from)
	from, _ = mail.ResolveFrom("Example Login <login@example.com>", "https://auth.example.com")
	fmt.Println(from)
	// Output:
	// "Gatehouse" <no-reply@auth.example.com>
	// "Example Login" <login@example.com>
}

func ExampleRender() {
	m, err := mail.Render(mail.PasswordReset, mail.Data{
		Email:     "ada@example.com",
		Link:      "https://auth.example.com/password/reset?token=T",
		ExpiresIn: 30 * time.Minute,
	})
	if err != nil {
		log.Fatal(err)
	}
	m.To = "ada@example.com"
	fmt.Println(m.Subject)
	fmt.Print(m.Text)
	// Output:
	// Reset your password
	// Hello,
	//
	// Someone asked to reset the password of the Gatehouse account for ada@example.com. To choose a new password, open this link:
	//
	// https://auth.example.com/password/reset?token=T
	//
	// The link expires in 30 minutes and works once. If you did not ask for this, ignore this message: your password stays as it is.
	//
	// --
	// Gatehouse. This message was sent automatically; replies are not read.
}

func ExampleDevOutbox() {
	outbox := mail.NewDevOutbox(100, slog.New(slog.DiscardHandler))
	_ = outbox.Send(context.Background(), mail.Message{
		To: "ada@example.com", Subject: "Hello", Text: "Open https://localhost:8080/verify-email?token=T",
	})
	for _, m := range outbox.List() {
		fmt.Println(m.To, m.Subject, m.ID != "", !m.Time.IsZero())
	}
	// Output:
	// ada@example.com Hello true true
}

// A request enqueues; a background Worker delivers.
func ExampleWorker() {
	dir, _ := os.MkdirTemp("", "mail-example")
	defer os.RemoveAll(dir)
	db, err := sql.Open("sqlite", filepath.Join(dir, "gatehouse.db")+"?_pragma=busy_timeout(5000)")
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	migration, _ := os.ReadFile("../db/migrations/sqlite/0010_mail_outbox.sql")
	if _, err := db.Exec(string(migration)); err != nil { // normally done by internal/db
		log.Fatal(err)
	}

	outbox, err := mail.NewOutbox(db, mail.SQLite)
	if err != nil {
		log.Fatal(err)
	}
	delivered := make(chan mail.Message, 1)
	sender := mail.SenderFunc(func(ctx context.Context, m mail.Message) error {
		delivered <- m // an *mail.SMTPSender or a *mail.DevOutbox in the app
		return nil
	})
	ctx, stop := context.WithCancel(context.Background())
	w := &mail.Worker{Outbox: outbox, Sender: sender}
	done := make(chan error)
	go func() { done <- w.Run(ctx) }()

	// In a request handler: returns at once, whatever SMTP does.
	if _, err := outbox.Enqueue(ctx, mail.Message{To: "ada@example.com", Subject: "Hello", Text: "Hi Ada"}); err != nil {
		log.Fatal(err)
	}
	m := <-delivered
	fmt.Println(m.To, m.Subject)
	stop()
	fmt.Println(<-done)
	// Output:
	// ada@example.com Hello
	// <nil>
}
