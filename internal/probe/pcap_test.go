package probe

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"net/netip"
	"strings"
	"testing"
	"time"
)

var (
	alice = netip.MustParseAddrPort("172.28.10.5:41234")
	bob   = netip.MustParseAddrPort("172.28.10.3:21000")
)

// frame builds an Ethernet/IPv4 frame carrying a TCP segment (proto 6) or
// a UDP datagram (17).
func frame(proto byte, src, dst netip.AddrPort, seq uint32, flags byte, payload []byte) []byte {
	var l4 []byte
	if proto == 6 {
		l4 = make([]byte, 20)
		binary.BigEndian.PutUint32(l4[4:], seq)
		l4[12], l4[13] = 5<<4, flags
	} else {
		l4 = make([]byte, 8)
		binary.BigEndian.PutUint16(l4[4:], uint16(8+len(payload)))
	}
	binary.BigEndian.PutUint16(l4[0:], src.Port())
	binary.BigEndian.PutUint16(l4[2:], dst.Port())
	l4 = append(l4, payload...)
	ip := make([]byte, 20)
	ip[0], ip[8], ip[9] = 0x45, 64, proto
	binary.BigEndian.PutUint16(ip[2:], uint16(20+len(l4)))
	s4, d4 := src.Addr().As4(), dst.Addr().As4()
	copy(ip[12:], s4[:])
	copy(ip[16:], d4[:])
	eth := make([]byte, 14)
	binary.BigEndian.PutUint16(eth[12:], 0x0800)
	return append(append(eth, ip...), append(l4, make([]byte, 6)...)...) // Ethernet padding after the IP packet
}

func pcapOf(t *testing.T, frames ...[]byte) *bytes.Buffer {
	t.Helper()
	var buf bytes.Buffer
	w, err := newPcapWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range frames {
		w.write(time.Unix(1700000000, 0), f, len(f))
	}
	if err := w.flush(); err != nil {
		t.Fatal(err)
	}
	return &buf
}

func findings(t *testing.T, buf *bytes.Buffer, needles ...Needle) (Analysis, []string) {
	t.Helper()
	a, err := AnalyzePcap(buf, needles)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, f := range a.Findings {
		out = append(out, f.Needle+" in "+f.Flow.String())
	}
	return a, out
}

// A password split across two segments, which arrive out of order and one
// of them twice (a retransmission, or seen on two ports), is still found,
// and named by its flow.
func TestNeedleAcrossSegmentsIsFound(t *testing.T) {
	req := []byte("POST /v1/statement HTTP/1.1\r\nAuthorization: Basic YW5hbHlzdDpzM2NyZXQ=\r\nx-trino-user: analyst\r\n\r\nSELECT 1")
	cut := bytes.Index(req, []byte("Basic ")) + 10
	const isn = 0xfffffff0 // the stream wraps the sequence space
	pcap := pcapOf(t,
		frame(6, alice, bob, isn, 0x02, nil), // SYN
		frame(6, alice, bob, isn+1+uint32(cut), 0x18, req[cut:]),
		frame(6, alice, bob, isn+1, 0x18, req[:cut]),
		frame(6, alice, bob, isn+1+uint32(cut), 0x18, req[cut:]),
		frame(6, bob, alice, 7, 0x12, nil),
	)
	a, got := findings(t, pcap,
		Needle{What: "analyst's Basic credentials", Value: []byte("YW5hbHlzdDpzM2NyZXQ=")},
		Needle{What: "user analyst as a header", Value: []byte("X-Trino-User: analyst"), Fold: true},
		Needle{What: "carol's password", Value: []byte("not-sent")},
	)
	want := []string{
		"analyst's Basic credentials in tcp 172.28.10.5:41234 → 172.28.10.3:21000",
		"user analyst as a header in tcp 172.28.10.5:41234 → 172.28.10.3:21000",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("findings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if a.Frames != 5 || a.Flows != 2 || a.Payload != int64(len(req)) || a.Gaps != 0 {
		t.Errorf("analysis %+v: want 5 frames, 2 flows, %d payload bytes (the repeat counted once), no gap", a, len(req))
	}
}

// Ciphertext (random bytes) of the same length carries no needle, and a
// needle cut by a missing segment is not claimed but the hole is counted.
func TestNoFalseFindings(t *testing.T) {
	noise := make([]byte, 64<<10)
	rand.Read(noise)
	secret := []byte("s3cret-password")
	pcap := pcapOf(t,
		frame(6, alice, bob, 1000, 0x18, noise[:30000]),
		frame(6, alice, bob, 31000, 0x18, noise[30000:]),
		frame(6, bob, alice, 1, 0x18, []byte("HTTP/1.1 200 OK\r\n\r\ns3cret-")),
		frame(6, bob, alice, 1+26+4, 0x18, []byte("password")), // 4 bytes missing before it
	)
	a, got := findings(t, pcap, Needle{What: "a password", Value: secret})
	if len(got) != 0 {
		t.Errorf("findings in noise and across a hole: %v", got)
	}
	if a.Gaps != 1 {
		t.Errorf("gaps = %d, want 1", a.Gaps)
	}
}

// A UDP datagram is searched as it is.
func TestUDPDatagram(t *testing.T) {
	_, got := findings(t, pcapOf(t, frame(17, alice, bob, 0, 0, []byte("leak: moat-capture-0011"))),
		Needle{What: "the SQL marker", Value: []byte("moat-capture-0011")})
	if len(got) != 1 || got[0] != "the SQL marker in udp 172.28.10.5:41234 → 172.28.10.3:21000" {
		t.Errorf("findings %v", got)
	}
}

// A file that is not pcap, or is cut short, is an error that says so.
func TestBadPcap(t *testing.T) {
	if _, err := AnalyzePcap(strings.NewReader("GET / HTTP/1.1\r\n\r\n-------"), nil); err == nil || !strings.Contains(err.Error(), "not a pcap file") {
		t.Errorf("err = %v, want not a pcap file", err)
	}
	full := pcapOf(t, frame(17, alice, bob, 0, 0, []byte("x"))).Bytes()
	if _, err := AnalyzePcap(bytes.NewReader(full[:len(full)-3]), nil); err == nil || !strings.Contains(err.Error(), "cut short") {
		t.Errorf("err = %v, want cut short", err)
	}
}

// BenchmarkAnalyzePcap reads, reassembles and searches 64 MB of TCP
// payload in 1448-byte segments for 40 needles.
func BenchmarkAnalyzePcap(b *testing.B) {
	var buf bytes.Buffer
	w, _ := newPcapWriter(&buf)
	seg := make([]byte, 1448)
	rand.Read(seg)
	var bytesIn int64
	for i := 0; i < (64<<20)/len(seg); i++ {
		f := frame(6, alice, bob, uint32(i*len(seg)), 0x18, seg)
		w.write(time.Unix(0, 0), f, len(f))
		bytesIn += int64(len(seg))
	}
	w.flush()
	var needles []Needle
	for i := range 40 {
		needles = append(needles, Needle{What: "n", Value: []byte("needle-" + strings.Repeat("x", i)), Fold: i%4 == 0})
	}
	b.SetBytes(bytesIn)
	for b.Loop() {
		if _, err := AnalyzePcap(bytes.NewReader(buf.Bytes()), needles); err != nil {
			b.Fatal(err)
		}
	}
}
