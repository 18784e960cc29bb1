package evg

// The integration tests drive the real eve-guest-hostd, eve-guest-agent
// and evg-wire from the build directory named by EVG_BUILD (`make test-go`
// sets it), each test with its own daemon on temporary paths.  Without
// EVG_BUILD they are skipped, and only the unit tests run.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/lf-edge/eve-guest-agent/go/evgpb"
)

// UUIDs the tests register.
const (
	vmOne   = "11111111-1111-4111-8111-111111111111"
	vmTwo   = "22222222-2222-4222-8222-222222222222"
	vmThree = "33333333-3333-4333-8333-333333333333"
	volA    = "aaaaaaaa-1111-4111-8111-111111111111"
	volB    = "aaaaaaaa-2222-4222-8222-222222222222"
	volC    = "aaaaaaaa-3333-4333-8333-333333333333"
	noVM    = "99999999-9999-4999-8999-999999999999"
)

// buildDir is EVG_BUILD, an absolute path; the test is skipped without it.
func buildDir(t *testing.T) string {
	t.Helper()
	b := os.Getenv("EVG_BUILD")
	if b == "" {
		t.Skip("EVG_BUILD is not set: the integration tests need the binaries of `make all`")
	}
	// go test runs in the package's directory, not where make was run.
	if !filepath.IsAbs(b) {
		t.Fatalf("EVG_BUILD=%s: give an absolute path", b)
	}
	if _, err := os.Stat(filepath.Join(b, "eve-guest-hostd")); err != nil {
		t.Fatalf("EVG_BUILD=%s: %v", b, err)
	}
	return b
}

// srcDir is the repository's top directory: EVG_SRC, or two up from this
// package's directory (found through symbolic links).
func srcDir(t *testing.T) string {
	t.Helper()
	if s := os.Getenv("EVG_SRC"); s != "" {
		return s
	}
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	real, err := filepath.EvalSymlinks(wd)
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Dir(filepath.Dir(real))
}

// mockZFS is test/tools/mock-zfs, the zfs(8) stand-in the C tests use.
func mockZFS(t *testing.T) string {
	return filepath.Join(srcDir(t), "test", "tools", "mock-zfs")
}

// shortTempDir is a fresh directory with a short path: hybrid socket paths
// are at most 101 bytes, and t.TempDir's carry the test's name.
func shortTempDir(t *testing.T) string {
	t.Helper()
	d, err := os.MkdirTemp("", "evg-go-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	return d
}

// hostd is one eve-guest-hostd started for a test.
type hostd struct {
	t     *testing.T
	build string
	dir   string
	conf  string
	sock  string
	log   string
	env   []string
	cmd   *exec.Cmd
	exit  chan error
}

// startHostd starts a daemon whose configuration is the lines given; it
// is stopped when the test ends.
func startHostd(t *testing.T, conf ...string) *hostd {
	t.Helper()
	h := &hostd{t: t, build: buildDir(t), dir: shortTempDir(t)}
	h.conf = filepath.Join(h.dir, "hostd.conf")
	h.sock = filepath.Join(h.dir, "control.sock")
	h.log = filepath.Join(h.dir, "hostd.log")
	h.env = append(os.Environ(), "EVG_MOCK_ZFS_DIR="+filepath.Join(h.dir, "zfs"))
	if err := os.MkdirAll(filepath.Join(h.dir, "zfs", "datasets"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(h.conf, []byte(strings.Join(conf, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		h.stop()
		if t.Failed() {
			b, _ := os.ReadFile(h.log)
			if len(b) > 4000 {
				b = b[len(b)-4000:]
			}
			t.Logf("hostd log (tail):\n%s", b)
		}
	})
	h.start()
	return h
}

// start runs the daemon and waits, as lib.sh's start_hostd does, for its
// control socket and for its start-up catalog check (snapshot requests
// are BUSY until that is done).
func (h *hostd) start() {
	t := h.t
	t.Helper()
	before := h.count("catalog check done")
	logf, err := os.OpenFile(h.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	h.cmd = exec.Command(filepath.Join(h.build, "eve-guest-hostd"), "-f", "-c", h.conf, "--no-vsock",
		"--state-dir", filepath.Join(h.dir, "state"), "--control-socket", h.sock)
	h.cmd.Env = h.env
	h.cmd.Stdout = logf
	h.cmd.Stderr = logf
	if err := h.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	h.exit = make(chan error, 1)
	go func(cmd *exec.Cmd, exit chan error) { exit <- cmd.Wait() }(h.cmd, h.exit)
	waitFor(t, 5*time.Second, "the control socket", func() bool {
		st, err := os.Stat(h.sock)
		return err == nil && st.Mode()&os.ModeSocket != 0
	})
	waitFor(t, 10*time.Second, "the catalog check", func() bool { return h.count("catalog check done") > before })
}

// count is how many times text occurs in the daemon's log.
func (h *hostd) count(text string) int {
	b, _ := os.ReadFile(h.log)
	return bytes.Count(b, []byte(text))
}

// stop sends SIGTERM and waits (SIGKILL after 10 s).
func (h *hostd) stop() {
	if h.cmd == nil {
		return
	}
	h.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-h.exit:
	case <-time.After(10 * time.Second):
		h.cmd.Process.Kill()
		<-h.exit
	}
	h.cmd = nil
}

// alive fails the test if the daemon has exited.
func (h *hostd) alive() {
	h.t.Helper()
	select {
	case err := <-h.exit:
		h.exit <- err
		h.t.Fatalf("hostd exited: %v", err)
	default:
	}
}

// dial connects a Client, closed when the test ends.
func (h *hostd) dial() *Client {
	h.t.Helper()
	c, err := Dial(ctxFor(h.t, 5*time.Second), h.sock, WithSoftware("eve-guest-agent-go test"))
	if err != nil {
		h.t.Fatalf("dial: %v", err)
	}
	h.t.Cleanup(func() { c.Close() })
	return c
}

// path is a file in the test's directory.
func (h *hostd) path(name string) string { return filepath.Join(h.dir, name) }

// zfsDataset makes a mock zvol of 1 GiB named dataset.
func (h *hostd) zfsDataset(dataset string) {
	h.t.Helper()
	p := filepath.Join(h.dir, "zfs", "datasets", strings.ReplaceAll(dataset, "/", "%"))
	if err := os.WriteFile(p, []byte("1073741824\n"), 0o644); err != nil {
		h.t.Fatal(err)
	}
}

// zfsFile writes a control file of the mock zfs (fail-next, delay, ...).
func (h *hostd) zfsFile(name, content string) {
	h.t.Helper()
	if err := os.WriteFile(filepath.Join(h.dir, "zfs", name), []byte(content), 0o644); err != nil {
		h.t.Fatal(err)
	}
}

// startProc starts a helper process of the test (a guest agent, evg-wire),
// killed when the test ends; its output goes to the file logName.
func (h *hostd) startProc(logName string, env []string, name string, args ...string) *exec.Cmd {
	h.t.Helper()
	logf, err := os.Create(h.path(logName))
	if err != nil {
		h.t.Fatal(err)
	}
	defer logf.Close()
	cmd := exec.Command(name, args...)
	cmd.Env = append(append([]string{}, h.env...), env...)
	cmd.Stdout = logf
	cmd.Stderr = logf
	if err := cmd.Start(); err != nil {
		h.t.Fatal(err)
	}
	var once sync.Once
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	h.t.Cleanup(func() {
		once.Do(func() {
			cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				cmd.Process.Kill()
				<-done
			}
		})
	})
	return cmd
}

// agent starts the real guest agent daemon of the VM whose hybrid socket
// is sock, and waits until the host counts it connected.
func (h *hostd) agent(c *Client, vm, sock, hooksDir string) *exec.Cmd {
	h.t.Helper()
	cmd := h.startProc("agent-"+filepath.Base(sock)+".log", nil, filepath.Join(h.build, "eve-guest-agent"),
		"--connect", "unix:"+sock+"_2210", "daemon", "-f", "--hooks-dir", hooksDir)
	h.waitAgent(c, vm, true)
	return cmd
}

// waitAgent waits until the VM's agent_connected is want.
func (h *hostd) waitAgent(c *Client, vm string, want bool) {
	h.t.Helper()
	waitFor(h.t, 10*time.Second, fmt.Sprintf("agent_connected %v", want), func() bool {
		info, err := c.VMShow(ctxFor(h.t, 5*time.Second), vm)
		return err == nil && info.AgentConnected == want
	})
}

// waitFor polls cond every 20 ms until it holds, or fails the test.
func waitFor(t *testing.T, max time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(max)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", max, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// ctxFor is a context that ends after d or with the test.
func ctxFor(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// qcow2 creates an empty qcow2 image of 16 MiB at path.
func qcow2(t *testing.T, path string) {
	t.Helper()
	if out, err := exec.Command("qemu-img", "create", "-q", "-f", "qcow2", path, "16M").CombinedOutput(); err != nil {
		t.Fatalf("qemu-img create: %v: %s", err, out)
	}
}

// qcow2VM is a VM record with one qcow2 volume per image given (volume
// UUIDs volA, volB, ... in order) and a hybrid socket in the test's dir.
func (h *hostd) qcow2VM(uuid, name, state string, images ...string) *evgpb.VmInfo {
	vols := []string{volA, volB, volC}
	vm := &evgpb.VmInfo{Uuid: uuid, Name: name, State: state, HybridSocket: h.path(name + ".sock")}
	for i, img := range images {
		qcow2(h.t, img)
		vm.Volumes = append(vm.Volumes, &evgpb.Volume{
			Uuid: vols[i], Name: fmt.Sprintf("data%d", i), Backend: BackendQcow2, Locator: img,
			Disks: []*evgpb.DiskId{{Kind: DiskSerial, Value: fmt.Sprintf("%s-%d", strings.ToUpper(name), i)}},
		})
	}
	return vm
}

// zfsVM is a VM record with one mock-ZFS volume (volA on dataset).
func (h *hostd) zfsVM(uuid, name, state, dataset, serial string) *evgpb.VmInfo {
	h.zfsDataset(dataset)
	return &evgpb.VmInfo{
		Uuid: uuid, Name: name, State: state, HybridSocket: h.path(name + ".sock"),
		Volumes: []*evgpb.Volume{{
			Uuid: volA, Name: "db", Backend: BackendZFS, Locator: dataset,
			Disks: []*evgpb.DiskId{{Kind: DiskSerial, Value: serial}},
		}},
	}
}

// mustAdd registers vm or fails the test.
func mustAdd(t *testing.T, c *Client, vm *evgpb.VmInfo) *evgpb.VmInfo {
	t.Helper()
	got, err := c.VMAdd(ctxFor(t, 5*time.Second), vm)
	if err != nil {
		t.Fatalf("vm add %s: %v", vm.Name, err)
	}
	return got
}

// wantCode checks that err is an *Error of the code of sentinel, matched by
// errors.Is and by no other sentinel, and returns its message.
func wantCode(t *testing.T, err error, sentinel *Error) string {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want %s", sentinel.Code)
	}
	if !errors.Is(err, sentinel) {
		t.Fatalf("error %v (code %s), want %s", err, CodeOf(err), sentinel.Code)
	}
	for _, other := range allSentinels {
		if other != sentinel && errors.Is(err, other) {
			t.Fatalf("error %v also matches %s", err, other.Code)
		}
	}
	var e *Error
	errors.As(err, &e)
	if !utf8.ValidString(e.Message) {
		t.Fatalf("error message is not valid UTF-8: %q", e.Message)
	}
	return e.Message
}

var allSentinels = []*Error{
	ErrInvalidArgument, ErrNotFound, ErrAlreadyExists, ErrNoSpace, ErrBusy,
	ErrPermissionDenied, ErrFailedPrecondition, ErrUnavailable, ErrHookFailed,
	ErrFreezeFailed, ErrTimeout, ErrBackendError, ErrUnsupported, ErrInternal,
}

// validUTF8 fails the test if any string in m, at any depth, is not valid
// UTF-8.  (A message that decoded at all already passed Go's proto3 check;
// this also covers the strings the client made itself.)
func validUTF8(t *testing.T, where string, m proto.Message) {
	t.Helper()
	var walk func(path string, m protoreflect.Message)
	walk = func(path string, m protoreflect.Message) {
		m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
			p := path + "." + string(fd.Name())
			check := func(v protoreflect.Value) {
				switch fd.Kind() {
				case protoreflect.StringKind:
					if !utf8.ValidString(v.String()) {
						t.Errorf("%s%s is not valid UTF-8: %q", where, p, v.String())
					}
				case protoreflect.MessageKind:
					walk(p, v.Message())
				}
			}
			if fd.IsList() {
				l := v.List()
				for i := 0; i < l.Len(); i++ {
					check(l.Get(i))
				}
			} else {
				check(v)
			}
			return true
		})
	}
	walk("", m.ProtoReflect())
}

// expectEvents reads s until it has seen the kinds in order (other events
// between them are allowed) for the VM, and returns the events seen.
func expectEvents(t *testing.T, s *EventStream, vm string, kinds ...string) []*evgpb.Event {
	t.Helper()
	ctx := ctxFor(t, 20*time.Second)
	var seen []*evgpb.Event
	var got []string
	for len(kinds) > 0 {
		ev, err := s.Next(ctx)
		if err != nil {
			t.Fatalf("waiting for events %v (seen %v): %v", kinds, got, err)
		}
		validUTF8(t, "event", ev)
		seen = append(seen, ev)
		if ev.VmUuid != vm {
			continue
		}
		got = append(got, ev.Kind)
		if ev.Kind == kinds[0] {
			kinds = kinds[1:]
		}
	}
	return seen
}

// silentQMP is a Unix socket that accepts connections and never greets: a
// QEMU monitor another client holds.  Closed when the test ends.
func silentQMP(t *testing.T, path string) {
	t.Helper()
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	})
}

// needRoot skips a test that needs root (root-owned hooks, loop devices).
func needRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
}

// notBusy calls f until the host stops answering BUSY (a vm update starts
// a catalog check of the VM, and snapshot requests wait for it), for at
// most 10 s: what pillar does with BUSY.
func notBusy[T any](t *testing.T, f func() (T, error)) (T, error) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		v, err := f()
		if !errors.Is(err, ErrBusy) || time.Now().After(deadline) {
			return v, err
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// StartTestHostd starts a daemon for the external tests (package
// evg_test, which sees the exported names of these files): its control
// socket and its temporary directory.
func StartTestHostd(t *testing.T, conf ...string) (socket, dir string) {
	h := startHostd(t, conf...)
	return h.sock, h.dir
}

// SrcDirForTest is srcDir for the external tests.
func SrcDirForTest(t *testing.T) string { return srcDir(t) }
