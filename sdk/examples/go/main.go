// Command chime-consumer receives one Chime task from a JetStream consumer, prints its
// Chime-* headers and acknowledges it. It shows that any NATS client can consume Chime
// tasks: it uses github.com/nats-io/nats.go and nothing from Chime.
//
// Build with Debian's packages (apt-get install golang-go golang-github-nats-io-go-nats-dev),
// which install nats.go under /usr/share/gocode; no module download is needed:
//
//	GO111MODULE=off GOPATH=/usr/share/gocode go build -o chime-consumer ./sdk/examples/go
//	./chime-consumer -nats nats://127.0.0.1:4222 -subject 'tasks.>'
//
// It prints one JSON object: the subject, the Chime-* headers, the payload and whether the
// ack was confirmed.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
)

type received struct {
	Subject   string            `json:"subject"`
	Headers   map[string]string `json:"headers"`
	Payload   string            `json:"payload"`
	Delivered uint64            `json:"delivered"`
	Acked     bool              `json:"acked"`
}

func main() {
	url := flag.String("nats", nats.DefaultURL, "NATS server URL")
	stream := flag.String("stream", "CHIME_TASKS", "JetStream stream Chime publishes to")
	subject := flag.String("subject", "tasks.>", "subjects to consume (filter subject)")
	durable := flag.String("durable", "go-example", "durable consumer name")
	wait := flag.Duration("wait", 30*time.Second, "how long to wait for a task")
	flag.Parse()

	if err := run(*url, *stream, *subject, *durable, *wait); err != nil {
		fmt.Fprintln(os.Stderr, "chime-consumer:", err)
		os.Exit(1)
	}
}

func run(url, stream, subject, durable string, wait time.Duration) error {
	nc, err := nats.Connect(url, nats.Name("chime go consumer example"))
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer nc.Close()

	js, err := nc.JetStream()
	if err != nil {
		return fmt.Errorf("jetstream: %w", err)
	}
	// A durable pull consumer with explicit acks: an unacknowledged task is delivered again
	// after AckWait, so a consumer that crashes mid-task loses nothing.
	sub, err := js.PullSubscribe(subject, durable,
		nats.BindStream(stream),
		nats.AckExplicit(),
		nats.AckWait(30*time.Second),
		nats.MaxDeliver(5),
	)
	if err != nil {
		return fmt.Errorf("subscribe: %w", err)
	}

	deadline := time.Now().Add(wait)
	for {
		msgs, err := sub.Fetch(1, nats.MaxWait(time.Until(deadline)))
		if err == nats.ErrTimeout {
			return fmt.Errorf("no task within %s", wait)
		}
		if err != nil {
			return fmt.Errorf("fetch: %w", err)
		}
		if len(msgs) == 0 {
			continue
		}
		return handle(msgs[0])
	}
}

func handle(msg *nats.Msg) error {
	meta, err := msg.Metadata()
	if err != nil {
		return fmt.Errorf("not a JetStream message: %w", err)
	}
	headers := map[string]string{}
	names := make([]string, 0, len(msg.Header))
	for name := range msg.Header {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		// Chime's headers, and the message id JetStream deduplicates fires with.
		if strings.HasPrefix(name, "Chime-") || name == "Nats-Msg-Id" {
			headers[name] = msg.Header.Get(name)
		}
	}
	// AckSync waits for the server to confirm the ack, so the task is not delivered again.
	if err := msg.AckSync(); err != nil {
		return fmt.Errorf("ack: %w", err)
	}
	return json.NewEncoder(os.Stdout).Encode(received{
		Subject:   msg.Subject,
		Headers:   headers,
		Payload:   string(msg.Data),
		Delivered: meta.NumDelivered,
		Acked:     true,
	})
}
