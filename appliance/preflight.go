package appliance

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"moat/appliance/config"
	"moat/appliance/lock"
	"moat/supervisor"
)

// Check is one pre-flight result: what was checked, whether it passed, and
// the fix when it did not.
type Check struct {
	Name   string
	OK     bool
	Detail string
	Fix    string
}

// PortHolders is implemented by runtimes that can say which of their objects
// publishes a host port (the Docker runtime).
type PortHolders interface {
	PortHolder(ctx context.Context, hostIP string, port int) (name string, found bool, err error)
}

// Preflight checks, before anything is created, that the runtime answers,
// the host ports are free (or held by this project's own containers, which
// will be adopted), the data dir has space, and the images are present or
// may be pulled.
func Preflight(ctx context.Context, c *config.Config, topo supervisor.Topology, rt supervisor.Runtime, pull string) []Check {
	var out []Check
	if err := rt.Ping(ctx); err != nil {
		return append(out, Check{Name: rt.Name() + " engine", Detail: err.Error()})
	}
	out = append(out, Check{Name: rt.Name() + " engine", OK: true, Detail: "reachable"})
	out = append(out, portChecks(ctx, c, topo, rt)...)
	out = append(out, subnetChecks(topo)...)
	out = append(out, diskCheck(c), memoryCheck(c, HostMemory()))
	if im, ok := rt.(supervisor.ImageManager); ok {
		out = append(out, imageChecks(ctx, topo, im, pull)...)
	}
	return out
}

// Failed joins the failed checks into one error, or nil.
func Failed(checks []Check) error {
	var errs []error
	for _, c := range checks {
		if !c.OK {
			msg := c.Name + ": " + c.Detail
			if c.Fix != "" {
				msg += "\n    fix: " + c.Fix
			}
			errs = append(errs, errors.New(msg))
		}
	}
	return errors.Join(errs...)
}

type hostPort struct {
	ip    string
	port  int
	owner string
	// change says what to change in moat.toml to move the port.
	change string
	// own: one of moat's own listeners (the dashboard, the host
	// endpoint), which the moat supervising this data dir may hold.
	own bool
}

func wantedPorts(c *config.Config, topo supervisor.Topology) []hostPort {
	var ps []hostPort
	for _, s := range topo.Services {
		for _, p := range s.Ports {
			ip := p.HostIP
			if ip == "" {
				ip = "127.0.0.1"
			}
			ps = append(ps, hostPort{ip, p.HostPort, s.Name, "the port in moat.toml", false})
		}
	}
	if c.Dashboard.Enabled {
		host, port, _ := net.SplitHostPort(c.Dashboard.Listen)
		n, _ := strconv.Atoi(port)
		ps = append(ps, hostPort{host, n, "dashboard", "dashboard.listen in moat.toml", true})
	}
	// The host endpoint listens in moat itself, once the stack is up
	// (endpoint.go openWorkstation, on 127.0.0.1 like it).
	if config.HasWorkstation(c) {
		ps = append(ps, hostPort{"127.0.0.1", c.Mesh.WorkstationPort, "host endpoint",
			"mesh.workstation_port in moat.toml (0 turns the host endpoint off)", true})
	}
	return ps
}

func portChecks(ctx context.Context, c *config.Config, topo supervisor.Topology, rt supervisor.Runtime) []Check {
	var out []Check
	inv, _ := rt.List(ctx, c.Appliance.Project)
	ours := map[string]bool{}
	for _, in := range inv.Instances {
		ours[in.Name] = true
	}
	bySelf := supervisedBySelf(c)
	for _, p := range wantedPorts(c, topo) {
		addr := net.JoinHostPort(p.ip, strconv.Itoa(p.port))
		ck := Check{Name: "port " + addr + " (" + p.owner + ")", OK: true, Detail: "free"}
		if ph, ok := rt.(PortHolders); ok {
			if name, found, err := ph.PortHolder(ctx, p.ip, p.port); err == nil && found {
				if ours[name] {
					ck.Detail = "held by this project's " + name + " (adopted)"
					out = append(out, ck)
					continue
				}
				ck.OK, ck.Detail = false, "taken by container "+name
				ck.Fix = "stop it (`docker stop " + name + "`) or change " + p.change
				out = append(out, ck)
				continue
			}
		}
		if p.own && bySelf {
			ck.Detail = "held by the moat that supervises this stack"
			out = append(out, ck)
			continue
		}
		if l, err := net.Listen("tcp", addr); err != nil {
			ck.OK = false
			ck.Detail = "taken by " + processHolding(p.port)
			ck.Fix = "stop that process or change " + p.change
		} else {
			l.Close()
		}
		out = append(out, ck)
	}
	return out
}

// supervisedBySelf reports whether another moat already supervises this
// data dir (its dashboard then holds the port legitimately, as when `moat
// doctor` runs beside it).
func supervisedBySelf(c *config.Config) bool {
	pid, err := lock.ReadPID(c.DataDir())
	return err == nil && pid > 0 && pid != os.Getpid()
}

// processHolding names the local process listening on port, from /proc.
func processHolding(port int) string {
	inodes := listeningInodes(port)
	if len(inodes) == 0 {
		return "another process (not visible to moat)"
	}
	procs, _ := filepath.Glob("/proc/[0-9]*/fd/*")
	for _, fd := range procs {
		link, err := os.Readlink(fd)
		if err != nil || !strings.HasPrefix(link, "socket:[") {
			continue
		}
		if inodes[strings.TrimSuffix(strings.TrimPrefix(link, "socket:["), "]")] {
			pidDir := filepath.Dir(filepath.Dir(fd))
			comm, _ := os.ReadFile(filepath.Join(pidDir, "comm"))
			return fmt.Sprintf("process %s (pid %s)", strings.TrimSpace(string(comm)), filepath.Base(pidDir))
		}
	}
	return "another process (not visible to moat)"
}

// listeningInodes reads /proc/net/tcp{,6} for sockets listening on port.
func listeningInodes(port int) map[string]bool {
	out := map[string]bool{}
	hex := fmt.Sprintf(":%04X", port)
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(data), "\n")[1:] {
			fs := strings.Fields(line)
			if len(fs) > 9 && strings.HasSuffix(fs[1], hex) && fs[3] == "0A" { // 0A = LISTEN
				out[fs[9]] = true
			}
		}
	}
	return out
}

// subnetChecks refuses a fixed subnet that overlaps a network this host
// already has (another Docker network, a VPN, the LAN), other than the
// project's own bridge, which carries the planned gateway address.
func subnetChecks(topo supervisor.Topology) []Check {
	var out []Check
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil
	}
	for _, n := range topo.Networks {
		want, err := netip.ParsePrefix(n.Subnet)
		if err != nil {
			continue
		}
		ck := Check{Name: "subnet " + n.Subnet + " (network " + n.Name + ")", OK: true, Detail: "free"}
		for _, a := range addrs {
			have, err := netip.ParsePrefix(a.String())
			if err != nil || !have.Overlaps(want) || have.Addr().String() == n.Gateway {
				continue
			}
			ck.OK, ck.Detail = false, "overlaps "+have.Masked().String()+" of this host (address "+have.Addr().String()+")"
			ck.Fix = "choose another subnet in moat.toml (mesh.subnet or trino.subnet)"
			break
		}
		out = append(out, ck)
	}
	return out
}

func diskCheck(c *config.Config) Check {
	dir := c.DataDir()
	for {
		if _, err := os.Stat(dir); err == nil || filepath.Dir(dir) == dir {
			break
		}
		dir = filepath.Dir(dir)
	}
	var st syscall.Statfs_t
	ck := Check{Name: "disk space in " + c.DataDir()}
	if err := syscall.Statfs(dir, &st); err != nil {
		ck.Detail = err.Error()
		return ck
	}
	free := config.Bytes(int64(st.Bavail) * st.Bsize)
	ck.Detail = free.String() + " free"
	ck.OK = free >= c.Appliance.MinFreeDisk
	if !ck.OK {
		ck.Detail += ", need " + c.Appliance.MinFreeDisk.String()
		ck.Fix = "free space, or point appliance.data_dir at a larger disk (or lower appliance.min_free_disk)"
	}
	return ck
}

func imageChecks(ctx context.Context, topo supervisor.Topology, im supervisor.ImageManager, pull string) []Check {
	var out []Check
	seen := map[string]bool{}
	for _, s := range topo.Services {
		if seen[s.Image] {
			continue
		}
		seen[s.Image] = true
		present, err := im.ImagePresent(ctx, s.Image)
		ck := Check{Name: "image " + s.Image, OK: true}
		switch {
		case err != nil:
			ck.OK, ck.Detail = false, err.Error()
		case present && pull != "always":
			ck.Detail = "present"
		case pull == "never":
			ck.OK, ck.Detail = false, "not present and --pull=never"
			ck.Fix = "load it (`moat images load FILE`, from `moat images save` on a connected machine) or allow pulling with --pull=missing"
		default:
			ck.Detail = "will be pulled"
		}
		out = append(out, ck)
	}
	return out
}

// NeedsPull lists the images of topo to pull under the pull policy.
func NeedsPull(ctx context.Context, topo supervisor.Topology, im supervisor.ImageManager, pull string) []string {
	var out []string
	seen := map[string]bool{}
	for _, s := range topo.Services {
		if seen[s.Image] || pull == "never" {
			continue
		}
		seen[s.Image] = true
		if present, err := im.ImagePresent(ctx, s.Image); err == nil && (!present || pull == "always") {
			out = append(out, s.Image)
		}
	}
	return out
}

// memoryCheck is FitsHost on this host's memory.
func memoryCheck(c *config.Config, memory int64) Check {
	ck := Check{Name: "host memory", OK: true, Detail: "not known here: not checked"}
	if memory > 0 {
		ck.Detail = fmt.Sprintf("%dMiB: enough for the planned cluster", memory>>20)
	}
	if err := c.FitsHost(memory); err != nil {
		ck.OK, ck.Detail, ck.Fix = false, err.Error(), "lower the setting named, or run on a host with more memory"
	}
	return ck
}

// HostMemory is the memory of this host in bytes (MemTotal), or 0 when it
// cannot be read (the check is then skipped).
func HostMemory() int64 {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "MemTotal:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb * 1024
		}
	}
	return 0
}
