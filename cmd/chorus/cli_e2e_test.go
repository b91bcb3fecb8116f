package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chorus-data/chorus/dataset"
	"github.com/chorus-data/chorus/node"
)

// TestMain lets the test binary act as the chorus command, so the CLI test
// runs real, separate processes without a separate build step.
func TestMain(m *testing.M) {
	if os.Getenv("CHORUS_TEST_AS_CLI") == "1" {
		os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// chorusCmd returns a command that runs this test binary as `chorus args...`.
func chorusCmd(args ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "CHORUS_TEST_AS_CLI=1", "CHORUS_API=")
	return cmd
}

type result struct {
	code           int
	stdout, stderr string
}

func chorus(t *testing.T, args ...string) result {
	t.Helper()
	cmd := chorusCmd(args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run chorus %v: %v", args, err)
	}
	return result{code, out.String(), errb.String()}
}

func mustChorus(t *testing.T, args ...string) string {
	t.Helper()
	r := chorus(t, args...)
	if r.code != 0 {
		t.Fatalf("chorus %s: exit %d: %s", strings.Join(args, " "), r.code, r.stderr)
	}
	return r.stdout
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

type proc struct {
	cmd *exec.Cmd
	api string
	log *bytes.Buffer
}

func startNodeProc(t *testing.T, bootstrap string, extra ...string) *proc {
	t.Helper()
	api := freeAddr(t)
	args := []string{"node", "--data", t.TempDir(), "--listen", "/ip4/127.0.0.1/tcp/0", "--api", api, "--stabilize", "200ms", "--log-level", "warn"}
	args = append(args, extra...)
	if bootstrap != "" {
		args = append(args, "--bootstrap", bootstrap)
	}
	cmd := chorusCmd(args...)
	var log bytes.Buffer
	cmd.Stderr = &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, api: api, log: &log}
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			_ = p.cmd.Process.Kill()
			_ = p.cmd.Wait()
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if chorus(t, "id", "--api", api).code == 0 {
			return p
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("node did not come up: %s", log.String())
	return nil
}

func TestCLIFiveProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("starts five processes")
	}
	first := startNodeProc(t, "")
	var id node.IDInfo
	if err := json.Unmarshal([]byte(mustChorus(t, "id", "--json", "--api", first.api)), &id); err != nil {
		t.Fatal(err)
	}
	if id.ID == "" || len(id.Addrs) == 0 || !strings.HasSuffix(id.Addrs[0], "/p2p/"+id.ID) {
		t.Fatalf("id --json = %+v", id)
	}
	procs := []*proc{first}
	for range 4 {
		procs = append(procs, startNodeProc(t, id.Addrs[0]))
	}

	src := filepath.Join(t.TempDir(), "data")
	for i := range 60 {
		writeTestFile(t, filepath.Join(src, fmt.Sprintf("d%d/sub/f%02d.txt", i%3, i)), []byte(fmt.Sprintf("row %d\n", i)))
	}
	writeTestFile(t, filepath.Join(src, "empty"), nil)
	writeTestFile(t, filepath.Join(src, "blob.bin"), bytes.Repeat([]byte("0123456789abcdef"), 300000))

	// Flags after the positional arguments, as users write them.
	var pub node.PublishResult
	out := mustChorus(t, "publish", "lab/runs", src, "--replicas", "3", "--json", "--api", procs[0].api)
	if err := json.Unmarshal([]byte(out), &pub); err != nil {
		t.Fatalf("publish --json: %v: %s", err, out)
	}
	if pub.Version != 1 || pub.CID == "" {
		t.Fatalf("publish = %+v", pub)
	}
	writeTestFile(t, filepath.Join(src, "d0/sub/f00.txt"), []byte("changed\n"))
	text := mustChorus(t, "--api", procs[1].api, "publish", "lab/runs", src)
	if !strings.Contains(text, "lab/runs@2") {
		t.Fatalf("publish output %q does not name version 2", text)
	}

	dest := filepath.Join(t.TempDir(), "out")
	mustChorus(t, "fetch", "lab/runs", dest, "--api", procs[4].api)
	if err := dataset.CompareTrees(src, dest); err != nil {
		t.Fatal(err)
	}

	// Stop one node cleanly and kill another.
	if err := procs[1].cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := procs[1].cmd.Wait(); err != nil {
		t.Fatalf("node did not leave cleanly on SIGTERM: %v: %s", err, procs[1].log)
	}
	_ = procs[2].cmd.Process.Kill()
	_ = procs[2].cmd.Wait()

	dest2 := filepath.Join(t.TempDir(), "v1")
	deadline := time.Now().Add(30 * time.Second)
	for {
		r := chorus(t, "fetch", "lab/runs@1", dest2, "--api", procs[3].api)
		if r.code == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("fetch after two nodes died: %s", r.stderr)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if b, err := os.ReadFile(filepath.Join(dest2, "d0/sub/f00.txt")); err != nil || string(b) != "row 0\n" {
		t.Fatalf("version 1 content: %q, %v", b, err)
	}

	var vs node.VersionsInfo
	if err := json.Unmarshal([]byte(mustChorus(t, "versions", "lab/runs", "--json", "--api", procs[3].api)), &vs); err != nil {
		t.Fatal(err)
	}
	if len(vs.Versions) != 2 || vs.Versions[1].Version != 2 || vs.Versions[1].Parent != 1 {
		t.Fatalf("versions = %+v", vs)
	}
	var ls node.NamesInfo
	if err := json.Unmarshal([]byte(mustChorus(t, "ls", "--json", "--api", procs[0].api)), &ls); err != nil {
		t.Fatal(err)
	}
	if len(ls.Names) != 1 || ls.Names[0].Name != "lab/runs" || ls.Names[0].Version != 2 {
		t.Fatalf("ls = %+v", ls)
	}
	var st node.StatusInfo
	if err := json.Unmarshal([]byte(mustChorus(t, "status", "--json", "--api", procs[0].api)), &st); err != nil {
		t.Fatal(err)
	}
	if st.ID != id.ID || len(st.Successors) == 0 {
		t.Fatalf("status = %+v", st)
	}
	// blob.bin's blocks are large, so they are in segments on the nodes
	// that hold them; what a segment holds live is no more than its size
	// or than what the node holds.
	var live int64
	for _, i := range []int{0, 3, 4} {
		var st node.StatusInfo
		if err := json.Unmarshal([]byte(mustChorus(t, "status", "--json", "--api", procs[i].api)), &st); err != nil {
			t.Fatal(err)
		}
		if sg := st.Segments; sg.LiveBytes > sg.Bytes || sg.LiveBytes > st.Bytes || (sg.Bytes > 0) != (sg.Files > 0) {
			t.Fatalf("node %d: segments %+v while holding %d bytes", i, sg, st.Bytes)
		}
		live += st.Segments.LiveBytes
	}
	if live == 0 {
		t.Fatal("no live node keeps any block in a segment")
	}

	// Bad input: one clear line on stderr, a non-zero exit, nothing written.
	conflict := t.TempDir()
	writeTestFile(t, filepath.Join(conflict, "mine"), []byte("keep"))
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"fetch", "no/such", filepath.Join(t.TempDir(), "x"), "--api", procs[0].api}, "unknown dataset name"},
		{[]string{"fetch", "lab/runs@7", filepath.Join(t.TempDir(), "x"), "--api", procs[0].api}, "unknown version"},
		{[]string{"fetch", "lab/runs", conflict, "--api", procs[0].api}, "exists"},
		{[]string{"publish", "Bad Name", src, "--api", procs[0].api}, "name"},
		{[]string{"publish", "lab/runs", filepath.Join(src, "missing"), "--api", procs[0].api}, "no such file"},
		{[]string{"status", "--api", freeAddr(t)}, "cannot reach the node API"},
		{[]string{"fetch", "lab/runs"}, "want NAME[@VERSION] DEST"},
	} {
		r := chorus(t, tc.args...)
		if r.code == 0 || !strings.Contains(r.stderr, tc.want) || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
			t.Errorf("chorus %v: exit %d, stderr %q; want a one-line error containing %q", tc.args, r.code, r.stderr, tc.want)
		}
	}
	if entries, _ := os.ReadDir(conflict); len(entries) != 1 {
		t.Errorf("conflicting fetch changed DEST: %d entries", len(entries))
	}

	for _, p := range []*proc{procs[0], procs[3], procs[4]} {
		_ = p.cmd.Process.Signal(syscall.SIGINT)
		if err := p.cmd.Wait(); err != nil {
			t.Errorf("node exit on SIGINT: %v: %s", err, p.log)
		}
	}
}

func writeTestFile(t *testing.T, p string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
}
