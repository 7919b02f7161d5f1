package app

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/vetbridge/vetbridge/app/localapi"
	"github.com/vetbridge/vetbridge/app/signin"
)

// runApp opens an installation in dir and runs it until the test ends,
// returning once its local API answers.
func runApp(t *testing.T, dir string, configure func(*Config)) *App {
	t.Helper()
	a, err := Open(Options{DataDir: dir, TokenStore: &signin.MemoryStore{}, Override: func(c *Config) {
		c.DICOM.Port = 0 // any free port: the test needs none
		c.DICOM.Listen = "127.0.0.1"
		if configure != nil {
			configure(c)
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = a.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		a.Close()
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := Reach(ctx, dir)
		if err == nil {
			c.Close()
			return a
		}
		if time.Now().After(deadline) {
			t.Fatalf("the local API never answered: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestSecondLaunchBringsTheWindowForward(t *testing.T) {
	dir := t.TempDir()
	a := runApp(t, dir, nil)
	shown := make(chan struct{}, 1)
	defer a.Subscribe(func(e Event) {
		if e.Kind == EventShowWindow {
			shown <- struct{}{}
		}
	})()
	c, err := Reach(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.ShowWindow(context.Background()); err != nil {
		t.Fatal(err)
	}
	select {
	case <-shown:
	case <-time.After(5 * time.Second):
		t.Fatal("the running instance was not asked to show its window")
	}
}

func TestConnectUsesTheRunningInstanceOrTheDirectory(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	// Nothing runs: the directory is opened, and nothing can be reached.
	if _, err := Reach(ctx, dir); !errors.Is(err, ErrNotRunning) {
		t.Fatalf("Reach with nothing running: %v, want ErrNotRunning", err)
	}
	c, err := Connect(ctx, ConnectOptions{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if c.Running() {
		t.Error("nothing runs, yet Connect says it reached an instance")
	}
	c.Close()

	a := runApp(t, dir, nil)
	c, err = Connect(ctx, ConnectOptions{DataDir: dir})
	if err != nil {
		t.Fatalf("Connect while the app runs must not fail: %v", err)
	}
	defer c.Close()
	if !c.Running() {
		t.Fatal("Connect opened the directory although an instance runs")
	}
	s, err := c.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := a.Status(); s.State != want.State || s.DICOMAddr != want.DICOMAddr || s.Message != want.Message {
		t.Errorf("status over the local API %+v, in process %+v", s, want)
	}
	if err := c.Quit(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := Reach(ctx, dir); !errors.Is(err, ErrNotRunning) {
		t.Errorf("after quit the instance still answers: %v", err)
	}
}

func TestLocalAPIEndpointIsOwnerOnly(t *testing.T) {
	dir := t.TempDir()
	runApp(t, dir, nil)
	assertOwnerOnly(t, localapi.Endpoint(dir), filepath.Dir(localapi.Endpoint(dir)))
}
