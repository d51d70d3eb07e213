package probe

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"sync"
	"time"
)

// CaptureSpec is what `moat __probe capture SPEC-JSON` captures: the named
// bridges, each with every port attached to it, into one pcap file per
// bridge under Dir. It holds no secret: the search happens in moat.
type CaptureSpec struct {
	Bridges []string `json:"bridges"` // interface names, br-<network id>
	Dir     string   `json:"dir"`     // where <bridge>.pcap and ready.json go
	UID     int      `json:"uid"`     // the files' owner: moat's user
	GID     int      `json:"gid"`
	// Limit ends the capture by itself (a moat that died while capturing
	// leaves no sniffer running); 0 means 15 minutes.
	Limit time.Duration `json:"limit,omitempty"`
}

// ReadyFile is written into CaptureSpec.Dir once every socket is bound:
// from then on, every frame crossing the bridges is captured.
const ReadyFile = "ready.json"

// CaptureSummary is what `moat __probe capture` prints when it stops.
type CaptureSummary struct {
	Bridges []BridgeSummary `json:"bridges"`
	Error   string          `json:"error,omitempty"`   // a socket that failed while capturing
	Expired bool            `json:"expired,omitempty"` // ended by CaptureSpec.Limit, not by moat
}

// BridgeSummary is one bridge's capture: the interfaces it listened on
// (the bridge and its ports), and what it wrote.
type BridgeSummary struct {
	Bridge     string   `json:"bridge"`
	Interfaces []string `json:"interfaces"`
	Frames     int64    `json:"frames"`
	Bytes      int64    `json:"bytes"`
	Dropped    int64    `json:"dropped"`          // frames the kernel could not queue: the capture is incomplete
	Missed     []string `json:"missed,omitempty"` // ports that joined the bridge while it ran: not captured
}

// pcap's classic format (https://www.tcpdump.org/manpages/pcap-savefile.5.html):
// microsecond timestamps, Ethernet link type.
const (
	pcapMagic    = 0xa1b2c3d4
	pcapSnaplen  = frameBufSize
	linkEthernet = 1
	frameBufSize = 1 << 18
)

// pcapWriter writes frames from several goroutines into one pcap file.
type pcapWriter struct {
	mu     sync.Mutex
	w      *bufio.Writer
	err    error
	frames int64
	bytes  int64
}

func newPcapWriter(w io.Writer) (*pcapWriter, error) {
	p := &pcapWriter{w: bufio.NewWriterSize(w, 1<<16)}
	var h [24]byte
	binary.LittleEndian.PutUint32(h[0:], pcapMagic)
	binary.LittleEndian.PutUint16(h[4:], 2)
	binary.LittleEndian.PutUint16(h[6:], 4)
	binary.LittleEndian.PutUint32(h[16:], pcapSnaplen)
	binary.LittleEndian.PutUint32(h[20:], linkEthernet)
	_, err := p.w.Write(h[:])
	return p, err
}

// write appends one frame: data as captured, origLen as it was on the wire.
func (p *pcapWriter) write(at time.Time, data []byte, origLen int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.err != nil {
		return
	}
	var h [16]byte
	binary.LittleEndian.PutUint32(h[0:], uint32(at.Unix()))
	binary.LittleEndian.PutUint32(h[4:], uint32(at.Nanosecond()/1000))
	binary.LittleEndian.PutUint32(h[8:], uint32(len(data)))
	binary.LittleEndian.PutUint32(h[12:], uint32(origLen))
	if _, p.err = p.w.Write(h[:]); p.err == nil {
		_, p.err = p.w.Write(data)
	}
	p.frames++
	p.bytes += int64(origLen)
}

func (p *pcapWriter) flush() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.err != nil {
		return p.err
	}
	return p.w.Flush()
}

// Needle is a byte string that must never cross a bridge in plaintext.
// What describes it (stored and shown); Value is never stored or shown.
type Needle struct {
	What  string
	Value []byte
	Fold  bool // match ASCII letters in any case (HTTP header names)
}

// Flow is one direction of a TCP or UDP conversation.
type Flow struct {
	Proto string // tcp or udp
	Src   netip.AddrPort
	Dst   netip.AddrPort
}

func (f Flow) String() string { return f.Proto + " " + f.Src.String() + " → " + f.Dst.String() }

// Finding is a needle seen in a flow's payload.
type Finding struct {
	Needle string // Needle.What
	Flow   Flow
}

// Analysis is what one capture file held.
type Analysis struct {
	Frames   int64 // frames in the file
	Bytes    int64 // their length on the wire
	Flows    int   // TCP/UDP flows (one per direction)
	Payload  int64 // TCP/UDP payload bytes searched (reassembled, without repeats)
	Gaps     int   // holes in TCP streams (frames missing): a needle across one is not seen
	Findings []Finding
}

// segment is TCP payload at a sequence number.
type segment struct {
	seq  uint32
	data []byte
}

type flowData struct {
	syn      bool
	isn      uint32 // SYN's sequence number + 1, when syn
	segments []segment
	grams    [][]byte // UDP datagrams
}

// AnalyzePcap reads a pcap file (Ethernet, as the capture writes), puts
// every TCP stream back together in sequence order (so a needle split
// across segments, retransmitted or captured twice is seen once), and
// searches every stream and UDP datagram for each needle.
func AnalyzePcap(r io.Reader, needles []Needle) (Analysis, error) {
	var a Analysis
	flows := map[Flow]*flowData{}
	var order []Flow
	err := readPcap(r, func(frame []byte, origLen int) {
		a.Frames++
		a.Bytes += int64(origLen)
		f, tcp, payload, ok := decode(frame)
		if !ok {
			return
		}
		fd := flows[f]
		if fd == nil {
			fd = &flowData{}
			flows[f] = fd
			order = append(order, f)
		}
		switch {
		case f.Proto == "udp":
			if len(payload) > 0 {
				fd.grams = append(fd.grams, slices.Clone(payload))
			}
		case tcp.flags&tcpSYN != 0:
			fd.syn, fd.isn = true, tcp.seq+1
		case len(payload) > 0:
			fd.segments = append(fd.segments, segment{seq: tcp.seq, data: slices.Clone(payload)})
		}
	})
	a.Flows = len(flows)
	for _, f := range order {
		fd := flows[f]
		chunks := fd.grams
		if f.Proto == "tcp" {
			var gaps int
			chunks, gaps = reassemble(fd)
			a.Gaps += gaps
		}
		for _, c := range chunks {
			a.Payload += int64(len(c))
		}
		found := make([]bool, len(needles))
		for _, c := range chunks {
			search(c, needles, found)
		}
		for i, n := range needles {
			if found[i] {
				a.Findings = append(a.Findings, Finding{Needle: n.What, Flow: f})
			}
		}
	}
	return a, err
}

// reassemble orders a stream's segments by their offset from the stream's
// start (the SYN, or the lowest sequence number seen) and joins them,
// dropping bytes already placed. A hole starts a new chunk.
func reassemble(fd *flowData) (chunks [][]byte, gaps int) {
	if len(fd.segments) == 0 {
		return nil, 0
	}
	base := fd.isn
	if !fd.syn {
		base = fd.segments[0].seq
		for _, s := range fd.segments {
			if int32(s.seq-base) < 0 {
				base = s.seq
			}
		}
	}
	type placed struct {
		off  int64
		data []byte
	}
	ps := make([]placed, 0, len(fd.segments))
	for _, s := range fd.segments {
		ps = append(ps, placed{off: int64(int32(s.seq - base)), data: s.data})
	}
	slices.SortStableFunc(ps, func(x, y placed) int { return int(x.off - y.off) })
	total := 0
	for _, p := range ps {
		total += len(p.data)
	}
	cur := make([]byte, 0, total)
	var end int64 = ps[0].off
	for _, p := range ps {
		switch {
		case p.off > end:
			chunks, cur, gaps = append(chunks, cur), nil, gaps+1 // cur's spare capacity stays unused
			cur, end = append(cur, p.data...), p.off+int64(len(p.data))
		case p.off+int64(len(p.data)) > end:
			cur = append(cur, p.data[end-p.off:]...)
			end = p.off + int64(len(p.data))
		}
	}
	return append(chunks, cur), gaps
}

// search marks in found the needles that occur in hay (folded needles in
// hay with its ASCII letters lowered, made once).
func search(hay []byte, needles []Needle, found []bool) {
	var lower []byte
	for i, n := range needles {
		switch {
		case found[i]:
		case !n.Fold:
			found[i] = bytes.Contains(hay, n.Value)
		default:
			if lower == nil {
				lower = lowerASCII(hay)
			}
			found[i] = bytes.Contains(lower, lowerASCII(n.Value))
		}
	}
}

func lowerASCII(b []byte) []byte {
	out := make([]byte, len(b))
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		out[i] = c
	}
	return out
}

func readPcap(r io.Reader, frame func([]byte, int)) error {
	br := bufio.NewReaderSize(r, 1<<16)
	var h [24]byte
	if _, err := io.ReadFull(br, h[:]); err != nil {
		return fmt.Errorf("pcap header: %w", err)
	}
	var bo binary.ByteOrder = binary.LittleEndian
	switch binary.LittleEndian.Uint32(h[0:]) {
	case pcapMagic:
	case 0xd4c3b2a1:
		bo = binary.BigEndian
	default:
		return errors.New("not a pcap file (bad magic)")
	}
	if lt := bo.Uint32(h[20:]); lt != linkEthernet {
		return fmt.Errorf("pcap link type %d: only Ethernet (1) is read", lt)
	}
	buf := make([]byte, frameBufSize)
	for i := 1; ; i++ {
		var rh [16]byte
		if _, err := io.ReadFull(br, rh[:]); err == io.EOF {
			return nil
		} else if err != nil {
			return fmt.Errorf("pcap record %d: %w (the capture was cut short)", i, err)
		}
		incl, orig := bo.Uint32(rh[8:]), bo.Uint32(rh[12:])
		if incl > frameBufSize {
			return fmt.Errorf("pcap record %d: %d bytes, more than the snap length", i, incl)
		}
		if _, err := io.ReadFull(br, buf[:incl]); err != nil {
			return fmt.Errorf("pcap record %d: %w (the capture was cut short)", i, err)
		}
		frame(buf[:incl], int(orig))
	}
}

const tcpSYN = 0x02

type tcpHeader struct {
	seq   uint32
	flags byte
}

// decode finds the TCP or UDP flow and payload of an Ethernet frame.
func decode(b []byte) (f Flow, tcp tcpHeader, payload []byte, ok bool) {
	if len(b) < 14 {
		return f, tcp, nil, false
	}
	etype, b := binary.BigEndian.Uint16(b[12:]), b[14:]
	for etype == 0x8100 || etype == 0x88a8 { // VLAN tags
		if len(b) < 4 {
			return f, tcp, nil, false
		}
		etype, b = binary.BigEndian.Uint16(b[2:]), b[4:]
	}
	var proto byte
	var src, dst netip.Addr
	switch etype {
	case 0x0800:
		if len(b) < 20 || b[0]>>4 != 4 {
			return f, tcp, nil, false
		}
		ihl, total := int(b[0]&0x0f)*4, int(binary.BigEndian.Uint16(b[2:]))
		if total == 0 || total > len(b) { // 0: a segmentation-offload frame
			total = len(b)
		}
		if ihl < 20 || total < ihl || binary.BigEndian.Uint16(b[6:])&0x1fff != 0 { // a later fragment
			return f, tcp, nil, false
		}
		proto, src, dst = b[9], netip.AddrFrom4([4]byte(b[12:16])), netip.AddrFrom4([4]byte(b[16:20]))
		b = b[ihl:total]
	case 0x86dd:
		if len(b) < 40 {
			return f, tcp, nil, false
		}
		plen := int(binary.BigEndian.Uint16(b[4:]))
		proto, src, dst = b[6], netip.AddrFrom16([16]byte(b[8:24])), netip.AddrFrom16([16]byte(b[24:40]))
		b = b[40:]
		if plen > 0 && plen < len(b) {
			b = b[:plen]
		}
	default:
		return f, tcp, nil, false
	}
	switch proto {
	case 6:
		if len(b) < 20 {
			return f, tcp, nil, false
		}
		off := int(b[12]>>4) * 4
		if off < 20 || off > len(b) {
			return f, tcp, nil, false
		}
		f = Flow{Proto: "tcp", Src: netip.AddrPortFrom(src, binary.BigEndian.Uint16(b[0:])), Dst: netip.AddrPortFrom(dst, binary.BigEndian.Uint16(b[2:]))}
		return f, tcpHeader{seq: binary.BigEndian.Uint32(b[4:]), flags: b[13]}, b[off:], true
	case 17:
		if len(b) < 8 {
			return f, tcp, nil, false
		}
		f = Flow{Proto: "udp", Src: netip.AddrPortFrom(src, binary.BigEndian.Uint16(b[0:])), Dst: netip.AddrPortFrom(dst, binary.BigEndian.Uint16(b[2:]))}
		return f, tcp, b[8:], true
	}
	return f, tcp, nil, false
}
