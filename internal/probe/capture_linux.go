//go:build linux

package probe

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"
)

const (
	ethPAll        = 0x0003 // ETH_P_ALL
	packetOutgoing = 4      // PACKET_OUTGOING
	solPacket      = 263    // SOL_PACKET
	packetStats    = 6      // PACKET_STATISTICS
)

// tap is one bound packet socket: a bridge's port, or the bridge itself.
type tap struct {
	iface  string
	br     string // the bridge it belongs to
	bridge bool   // the bridge device: keep frames the host sends into it
	f      *os.File
	w      *pcapWriter
}

// CaptureMain captures until ctx ends (SIGTERM), then prints a
// CaptureSummary as JSON. It opens its packet sockets first and then, when
// spec names a user other than root, becomes that user (which leaves it no
// capability) before it creates a file.
func CaptureMain(ctx context.Context, arg string, stdout io.Writer) error {
	var spec CaptureSpec
	if err := json.Unmarshal([]byte(arg), &spec); err != nil {
		return fmt.Errorf("capture spec: %w", err)
	}
	taps, err := openTaps(spec.Bridges)
	defer func() {
		for _, t := range taps {
			t.f.Close()
		}
	}()
	if err != nil {
		return err
	}
	if spec.UID != 0 || spec.GID != 0 {
		if err := dropPrivileges(spec.UID, spec.GID); err != nil {
			return err
		}
	}
	writers := map[string]*pcapWriter{}
	for _, br := range spec.Bridges {
		f, err := os.OpenFile(filepath.Join(spec.Dir, br+".pcap"), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return fmt.Errorf("capture: %w", err)
		}
		defer f.Close()
		if writers[br], err = newPcapWriter(f); err != nil {
			return err
		}
	}
	sum := CaptureSummary{}
	for _, br := range spec.Bridges {
		b := BridgeSummary{Bridge: br}
		for _, t := range taps {
			if t.br == br {
				t.w, b.Interfaces = writers[br], append(b.Interfaces, t.iface)
			}
		}
		sum.Bridges = append(sum.Bridges, b)
	}
	if err := writeReady(spec.Dir, sum); err != nil {
		return err
	}
	if spec.Limit <= 0 {
		spec.Limit = 15 * time.Minute
	}
	limited, cancel := context.WithTimeout(ctx, spec.Limit)
	defer cancel()
	if err := capture(limited, taps, &sum); err != nil {
		sum.Error = err.Error()
	}
	sum.Expired = ctx.Err() == nil
	for bi := range sum.Bridges {
		b := &sum.Bridges[bi]
		if err := writers[b.Bridge].flush(); err != nil {
			return fmt.Errorf("capture: write %s.pcap: %w", b.Bridge, err)
		}
		b.Frames, b.Bytes = writers[b.Bridge].frames, writers[b.Bridge].bytes
		// A port that joined after the sockets were bound (a container
		// started or restarted meanwhile) was not seen: say so.
		ports, _ := bridgePorts(b.Bridge)
		for _, p := range ports {
			if !slices.Contains(b.Interfaces, p) {
				b.Missed = append(b.Missed, p)
			}
		}
	}
	return json.NewEncoder(stdout).Encode(sum)
}

// openTaps binds a packet socket to each bridge and to each of its ports.
func openTaps(bridges []string) ([]*tap, error) {
	var taps []*tap
	for _, br := range bridges {
		ports, err := bridgePorts(br)
		if err != nil {
			return taps, err
		}
		for i, name := range append([]string{br}, ports...) {
			f, err := bindTap(name)
			if err != nil {
				return taps, fmt.Errorf("capture: bridge %s: %w", br, err)
			}
			taps = append(taps, &tap{iface: name, br: br, bridge: i == 0, f: f})
		}
	}
	return taps, nil
}

// capture reads every tap until ctx ends, then counts each bridge's drops
// and closes the sockets. It returns the errors of taps that failed before.
func capture(ctx context.Context, taps []*tap, sum *CaptureSummary) error {
	var wg sync.WaitGroup
	var closing atomic.Bool
	errs := make([]error, len(taps))
	for i, t := range taps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := t.read(); !closing.Load() {
				errs[i] = err
			}
		}()
	}
	<-ctx.Done()
	closing.Store(true)
	for _, t := range taps {
		drops := t.drops()
		for bi := range sum.Bridges {
			if sum.Bridges[bi].Bridge == t.br {
				sum.Bridges[bi].Dropped += drops
			}
		}
		t.f.Close()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// bindTap opens a packet socket that receives every frame of interface
// name, and nothing before it is bound there.
func bindTap(name string) (*os.File, error) {
	ifi, err := net.InterfaceByName(name)
	if err != nil {
		return nil, err
	}
	fd, err := syscall.Socket(syscall.AF_PACKET, syscall.SOCK_RAW|syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("a packet socket (needs CAP_NET_RAW): %w", err)
	}
	syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_RCVBUF, 8<<20)
	if err := syscall.Bind(fd, &syscall.SockaddrLinklayer{Protocol: htons(ethPAll), Ifindex: ifi.Index}); err != nil {
		syscall.Close(fd)
		return nil, fmt.Errorf("bind a packet socket to %s: %w", name, err)
	}
	return os.NewFile(uintptr(fd), "packet:"+name), nil
}

// bridgePorts are the interfaces attached to bridge br.
func bridgePorts(br string) ([]string, error) {
	ents, err := os.ReadDir(filepath.Join("/sys/class/net", br, "brif"))
	if err != nil {
		return nil, fmt.Errorf("capture: the ports of bridge %s: %w", br, err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out, nil
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// read copies the tap's frames into its bridge's file until the socket is
// closed. A port keeps what enters the bridge through it; the bridge
// device keeps what the host sends into the bridge: so every frame on the
// bridge is written once.
func (t *tap) read() error {
	rc, err := t.f.SyscallConn()
	if err != nil {
		return err
	}
	buf := make([]byte, frameBufSize)
	for {
		var n int
		var from syscall.Sockaddr
		var rerr error
		err := rc.Read(func(fd uintptr) bool {
			n, from, rerr = syscall.Recvfrom(int(fd), buf, syscall.MSG_TRUNC)
			return rerr != syscall.EAGAIN
		})
		if err != nil {
			return fmt.Errorf("%s: %w", t.iface, err)
		}
		if rerr != nil {
			return fmt.Errorf("%s: %w", t.iface, rerr)
		}
		ll, ok := from.(*syscall.SockaddrLinklayer)
		if !ok || (ll.Pkttype == packetOutgoing) != t.bridge {
			continue
		}
		t.w.write(time.Now(), buf[:min(n, len(buf))], n)
	}
}

// drops is the kernel's count of frames it could not queue for the socket
// (PACKET_STATISTICS; reading it resets it).
func (t *tap) drops() int64 {
	rc, err := t.f.SyscallConn()
	if err != nil {
		return 0
	}
	var st struct{ packets, drops uint32 }
	rc.Control(func(fd uintptr) {
		l := uint32(unsafe.Sizeof(st))
		syscall.Syscall6(syscall.SYS_GETSOCKOPT, fd, solPacket, packetStats, uintptr(unsafe.Pointer(&st)), uintptr(unsafe.Pointer(&l)), 0)
	})
	return int64(st.drops)
}

// dropPrivileges becomes uid:gid with no capabilities left, so that the
// files belong to moat's user and nothing but the open sockets remains of
// root.
func dropPrivileges(uid, gid int) error {
	if err := syscall.Setgroups([]int{gid}); err != nil {
		return fmt.Errorf("capture: setgroups: %w", err)
	}
	if err := syscall.Setgid(gid); err != nil {
		return fmt.Errorf("capture: setgid %d: %w", gid, err)
	}
	if err := syscall.Setuid(uid); err != nil {
		return fmt.Errorf("capture: setuid %d: %w", uid, err)
	}
	return nil
}

func writeReady(dir string, sum CaptureSummary) error {
	b, _ := json.Marshal(sum)
	tmp := filepath.Join(dir, ReadyFile+".tmp")
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("capture: %w", err)
	}
	return os.Rename(tmp, filepath.Join(dir, ReadyFile))
}
