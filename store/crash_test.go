package store

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// crashChildEnv, when set, turns this test binary into the writer that the
// crash test kills; its value is the data directory.
const crashChildEnv = "VETBRIDGE_STORE_CRASH_CHILD"

// crashChild writes forever, printing one line after each write returns. Only
// what it printed counts as acknowledged.
func crashChild(dir string) {
	s, err := Open(dir, Options{})
	if err != nil {
		fmt.Println("ERR", err)
		os.Exit(2)
	}
	for i := 0; ; i++ {
		if err := s.PutItem(Item{Key: fmt.Sprintf("item%d", i), Date: "20260101", Modality: "DX", Data: []byte(fmt.Sprint(i))}); err != nil {
			fmt.Println("ERR", err)
			os.Exit(2)
		}
		fmt.Println("ACK item", i)
		id, _, err := s.Enqueue(Entry{DedupKey: fmt.Sprintf("upd%d", i), Payload: []byte(fmt.Sprint(i))})
		if err != nil {
			fmt.Println("ERR", err)
			os.Exit(2)
		}
		fmt.Println("ACK outbox", i, id)
		if err := s.PutStepAndEnqueue(fmt.Sprintf("2.25.%d", i), []byte(fmt.Sprint(i)), &Entry{DedupKey: fmt.Sprintf("step%d", i)}); err != nil {
			fmt.Println("ERR", err)
			os.Exit(2)
		}
		fmt.Println("ACK step", i)
		if err := s.ApplyItems([]Item{
			{Key: fmt.Sprintf("pairA%d", i), Date: "20260102"},
			{Key: fmt.Sprintf("pairB%d", i), Date: "20260102"},
		}, []string{fmt.Sprintf("item%d", i-1)}); err != nil {
			fmt.Println("ERR", err)
			os.Exit(2)
		}
		fmt.Println("ACK pair", i)
	}
}

// TestCrashKeepsAcknowledgedWrites kills a writing process without warning and
// checks that every write it acknowledged survives, and that no transaction is
// half applied.
func TestCrashKeepsAcknowledgedWrites(t *testing.T) {
	if dir := os.Getenv(crashChildEnv); dir != "" {
		crashChild(dir)
		return
	}
	if testing.Short() {
		t.Skip("crash test re-executes the test binary; skipped with -short")
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashKeepsAcknowledgedWrites$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}

	acked := map[string]bool{}
	outboxIDs := map[int]uint64{}
	lastPair := -1
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	deadline := time.After(20 * time.Second)
	const want = 400
	n := 0
read:
	for n < want {
		select {
		case line, ok := <-lines:
			if !ok {
				break read
			}
			var i int
			var id uint64
			switch {
			case strings.HasPrefix(line, "ERR"):
				t.Fatalf("child: %s", line)
			case sscan(line, "ACK item %d", &i):
				acked[fmt.Sprintf("item%d", i)] = true
			case sscan(line, "ACK outbox %d %d", &i, &id):
				outboxIDs[i] = id
			case sscan(line, "ACK step %d", &i):
				acked[fmt.Sprintf("2.25.%d", i)] = true
			case sscan(line, "ACK pair %d", &i):
				lastPair = i
			default:
				continue // test framework chatter
			}
			n++
		case <-deadline:
			break read
		}
	}
	// Kill while the child is still writing: it never stops on its own.
	if err := cmd.Process.Kill(); err != nil {
		t.Fatalf("kill child: %v", err)
	}
	go func() {
		for range lines { // drain so the reader goroutine ends
		}
	}()
	_ = cmd.Wait()
	if n < 20 {
		t.Fatalf("child acknowledged only %d writes before the deadline", n)
	}
	t.Logf("killed the writer after %d acknowledged writes", n)

	s := openT(t, dir)
	// A killed writer leaves a sound file: bbolt's commit is atomic, so the
	// check must not mistake it for damage.
	if r := s.Recovery(); r != nil {
		t.Fatalf("a file left by a killed writer was treated as damaged: %s (%s)", r.Message(), r.Reason)
	}
	for k := range acked {
		if strings.HasPrefix(k, "item") {
			// item i is deleted by pair i+1; only require it if that was not acknowledged.
			var i int
			fmt.Sscanf(k, "item%d", &i)
			if i+1 <= lastPair {
				continue
			}
			if _, ok, err := s.GetItem(k); !ok || err != nil {
				t.Errorf("acknowledged %s lost (%v)", k, err)
			}
			continue
		}
		if _, ok, err := s.GetStep(k); !ok || err != nil {
			t.Errorf("acknowledged step %s lost (%v)", k, err)
		}
	}
	pend, err := s.PendingOutbox()
	mustNil(t, err)
	byKey := map[string]uint64{}
	for _, e := range pend {
		byKey[e.DedupKey] = e.ID
	}
	for i, id := range outboxIDs {
		if got, ok := byKey[fmt.Sprintf("upd%d", i)]; !ok || got != id {
			t.Errorf("acknowledged outbox entry upd%d (id %d) lost", i, id)
		}
	}
	// Atomicity: a step exists exactly when its outbox entry does, and pair
	// halves exist together and with the deletion of the previous item.
	for i := 0; ; i++ {
		_, step, _ := s.GetStep(fmt.Sprintf("2.25.%d", i))
		_, entry := byKey[fmt.Sprintf("step%d", i)]
		if step != entry {
			t.Errorf("step %d stored=%v but its outbox entry stored=%v", i, step, entry)
		}
		_, a, _ := s.GetItem(fmt.Sprintf("pairA%d", i))
		_, b, _ := s.GetItem(fmt.Sprintf("pairB%d", i))
		if a != b {
			t.Errorf("pair %d half applied: A=%v B=%v", i, a, b)
		}
		if i <= lastPair && !a {
			t.Errorf("acknowledged pair %d lost", i)
		}
		if !step && !a && i > lastPair+1 {
			break
		}
	}
	// The store is usable after the crash.
	mustNil(t, s.PutItem(Item{Key: "after", Date: "20260101"}))
}

func sscan(line, format string, args ...any) bool {
	n, err := fmt.Sscanf(line, format, args...)
	return err == nil && n == len(args)
}
