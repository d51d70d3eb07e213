package probe

import (
	"bufio"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"runtime"
	"strconv"
	"strings"
)

// HostPath is how this host would reach an address: through a local
// interface (an address of its own whose prefix holds it, or a route to a
// prefix holding it through a bridge), or not at all (its traffic would
// follow the default route off the machine).
type HostPath struct {
	Local  bool
	Detail string // "address 172.29.10.1/24 on br-…", "route 172.29.10.0/24 dev br-…"
}

// LocalPath says whether a local user of this host reaches ip through a
// local interface. Only then may a probe dial ip: a packet to anything else
// would leave the machine. The error means it cannot tell (another OS, an
// unreadable routing table): unknown, not "no path".
func LocalPath(ip netip.Addr) (HostPath, error) {
	addrs, err := interfaceAddrs()
	if err != nil {
		return HostPath{}, err
	}
	if p, ok := addressPath(ip, addrs); ok {
		return p, nil
	}
	if runtime.GOOS != "linux" {
		return HostPath{}, fmt.Errorf("cannot read the routing table on %s (only Linux's /proc/net/route)", runtime.GOOS)
	}
	f, err := os.Open("/proc/net/route")
	if err != nil {
		return HostPath{}, fmt.Errorf("the routing table: %w", err)
	}
	defer f.Close()
	routes, err := parseRoutes(f)
	if err != nil {
		return HostPath{}, err
	}
	return routePath(ip, routes, isBridge), nil
}

// ifaceAddr is one address of a local interface.
type ifaceAddr struct {
	iface  string
	prefix netip.Prefix
}

func interfaceAddrs() ([]ifaceAddr, error) {
	ifs, err := net.Interfaces()
	if err != nil {
		return nil, fmt.Errorf("the host's interfaces: %w", err)
	}
	var out []ifaceAddr
	for _, i := range ifs {
		as, err := i.Addrs()
		if err != nil {
			return nil, fmt.Errorf("the addresses of %s: %w", i.Name, err)
		}
		for _, a := range as {
			if p, err := netip.ParsePrefix(a.String()); err == nil {
				out = append(out, ifaceAddr{iface: i.Name, prefix: p})
			}
		}
	}
	return out, nil
}

func addressPath(ip netip.Addr, addrs []ifaceAddr) (HostPath, bool) {
	for _, a := range addrs {
		if a.prefix.Masked().Contains(ip) {
			return HostPath{Local: true, Detail: "the host has address " + a.prefix.String() + " on " + a.iface}, true
		}
	}
	return HostPath{}, false
}

// route is one IPv4 route of the main table (/proc/net/route).
type route struct {
	iface   string
	dst     netip.Prefix
	gateway netip.Addr
}

// rtfUp is the kernel's RTF_UP: the route is usable.
const rtfUp = 0x1

// parseRoutes reads /proc/net/route: a header, then per route Iface,
// Destination, Gateway, Flags, RefCnt, Use, Metric, Mask, … with addresses
// as host-order (little-endian) hex. Routes that are not up are left out.
func parseRoutes(r io.Reader) ([]route, error) {
	sc := bufio.NewScanner(r)
	var out []route
	for n := 1; sc.Scan(); n++ {
		f := strings.Fields(sc.Text())
		if n == 1 || len(f) == 0 {
			continue // the header
		}
		if len(f) < 8 {
			return nil, fmt.Errorf("/proc/net/route:%d: %d fields, want at least 8", n, len(f))
		}
		dst, err1 := hexAddr(f[1])
		gw, err2 := hexAddr(f[2])
		mask, err3 := hexAddr(f[7])
		flags, err4 := strconv.ParseUint(f[3], 16, 32)
		if err1 != nil || err2 != nil || err3 != nil || err4 != nil {
			return nil, fmt.Errorf("/proc/net/route:%d: cannot read %q", n, sc.Text())
		}
		if flags&rtfUp == 0 {
			continue
		}
		bits := 0
		for _, b := range mask.As4() {
			for ; b&0x80 != 0; b <<= 1 {
				bits++
			}
		}
		out = append(out, route{iface: f[0], dst: netip.PrefixFrom(dst, bits).Masked(), gateway: gw})
	}
	return out, sc.Err()
}

func hexAddr(s string) (netip.Addr, error) {
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != 4 {
		return netip.Addr{}, fmt.Errorf("%q is not an address", s)
	}
	var a [4]byte
	binary.BigEndian.PutUint32(a[:], binary.LittleEndian.Uint32(b))
	return netip.AddrFrom4(a), nil
}

// routePath finds a route other than the default one that takes ip to a
// local bridge. A route through any other interface (a VPN, the LAN) leads
// off the machine, not into a container.
func routePath(ip netip.Addr, routes []route, bridge func(string) bool) HostPath {
	for _, r := range routes {
		if r.dst.Bits() > 0 && r.dst.Contains(ip) && bridge(r.iface) {
			return HostPath{Local: true, Detail: "the host routes " + r.dst.String() + " to bridge " + r.iface}
		}
	}
	return HostPath{Detail: "the host has no address or route into " + ip.String() + "'s network " +
		"(its traffic would follow the default route off the machine, so nothing was sent)"}
}

// isBridge says whether the interface is a Linux bridge (Docker's are).
func isBridge(iface string) bool {
	_, err := os.Stat("/sys/class/net/" + iface + "/bridge")
	return err == nil
}
