package netshape

import (
	"bytes"
	"io"
	"net"
	"testing"
	"time"
)

// echoServer echoes every connection until its peer half-closes.
func echoServer(t *testing.T) net.Listener {
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
				io.Copy(c, c)
				c.(*net.TCPConn).CloseWrite()
			}()
		}
	}()
	return ln
}

func TestProxyDelayAndData(t *testing.T) {
	srv := echoServer(t)
	p, err := Listen("127.0.0.1:0", srv.Addr().String(), Link{Delay: 40 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	c, err := net.Dial("tcp", p.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	msg := bytes.Repeat([]byte("chorus "), 10000)
	start := time.Now()
	go func() {
		c.Write(msg)
		c.(*net.TCPConn).CloseWrite()
	}()
	got, err := io.ReadAll(c)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, msg) {
		t.Fatalf("echo through proxy: %d bytes, want %d", len(got), len(msg))
	}
	// Two one-way delays at least: there and back.
	if rtt := time.Since(start); rtt < 80*time.Millisecond {
		t.Fatalf("round trip through a 40 ms link took %v", rtt)
	}
}

func TestProxyRate(t *testing.T) {
	srv := echoServer(t)
	const rate = 2 << 20 // 2 MiB/s each way
	p, err := Listen("127.0.0.1:0", srv.Addr().String(), Link{Rate: rate})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	c, err := net.Dial("tcp", p.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	msg := make([]byte, 1<<20)
	start := time.Now()
	go func() {
		c.Write(msg)
		c.(*net.TCPConn).CloseWrite()
	}()
	got, _ := io.ReadAll(c)
	if len(got) != len(msg) {
		t.Fatalf("got %d bytes", len(got))
	}
	// 1 MiB at 2 MiB/s takes at least half a second each way (pipelined).
	if d := time.Since(start); d < 450*time.Millisecond {
		t.Fatalf("1 MiB through a 2 MiB/s link took %v", d)
	}
}
