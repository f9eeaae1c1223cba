package faultproxy

import (
	"bufio"
	"net"
	"testing"
	"time"
)

// echoServer echoes lines back.
func echoServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				r := bufio.NewReader(c)
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					c.Write([]byte(line))
				}
			}()
		}
	}()
	return ln.Addr().String()
}

func roundTrip(t *testing.T, c net.Conn, timeout time.Duration) (string, error) {
	t.Helper()
	c.SetDeadline(time.Now().Add(timeout))
	if _, err := c.Write([]byte("ping\n")); err != nil {
		return "", err
	}
	return bufio.NewReader(c).ReadString('\n')
}

func TestModes(t *testing.T) {
	p, err := New(echoServer(t))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	dial := func() net.Conn {
		c, err := net.Dial("tcp", p.Addr())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}

	c := dial()
	if got, err := roundTrip(t, c, time.Second); err != nil || got != "ping\n" {
		t.Fatalf("pass: %q %v", got, err)
	}

	p.SetMode(Blackhole)
	if _, err := roundTrip(t, c, 300*time.Millisecond); err == nil {
		t.Error("blackhole: got an answer")
	} else if ne, ok := err.(net.Error); !ok || !ne.Timeout() {
		t.Errorf("blackhole: %v, want a timeout", err)
	}

	p.SetMode(Drop)
	if _, err := roundTrip(t, c, time.Second); err == nil {
		t.Error("drop: the open connection still works")
	}
	c2 := dial()
	if _, err := roundTrip(t, c2, time.Second); err == nil {
		t.Error("drop: a new connection works")
	}

	p.SetMode(Pass)
	if got, err := roundTrip(t, dial(), time.Second); err != nil || got != "ping\n" {
		t.Fatalf("pass again: %q %v", got, err)
	}
}
