package dimse

import (
	"errors"
	"fmt"
	"io"

	"github.com/vetbridge/vetbridge/dicom/pdu"
)

// Message is one complete DIMSE message: a command set and, when the command
// says so, a data set in the presentation context's transfer syntax.
type Message struct {
	ContextID byte
	Command   *Command
	Data      []byte
}

// DefaultMaxDataSetLength bounds the data set of one received message.
// Worklist queries and MPPS instances are a few kilobytes; 1 MiB leaves
// room for odd devices while 64 associations at once stay within 64 MiB.
const DefaultMaxDataSetLength = 1 << 20

// ErrProtocol is wrapped by every PDV sequencing error; the association
// should be aborted.
var ErrProtocol = errors.New("DIMSE protocol violation")

// Assembler builds messages from PDVs in arrival order.
type Assembler struct {
	// MaxDataSetLength bounds a reassembled data set; 0 means
	// DefaultMaxDataSetLength.
	MaxDataSetLength int

	ctx      byte
	started  bool
	cmdDone  bool
	cmdBuf   []byte
	command  *Command
	dataBuf  []byte
	complete []Message
}

// Add consumes the PDVs of one P-DATA-TF and returns the messages completed
// by them. PDV data is copied, so the caller may reuse the PDU buffer.
func (a *Assembler) Add(pdvs []pdu.PDV) ([]Message, error) {
	a.complete = a.complete[:0]
	for _, v := range pdvs {
		if err := a.add(v); err != nil {
			return nil, err
		}
	}
	return a.complete, nil
}

func (a *Assembler) add(v pdu.PDV) error {
	if !a.started {
		a.started, a.ctx = true, v.ContextID
	} else if v.ContextID != a.ctx {
		return fmt.Errorf("%w: PDV for context %d inside a message on context %d", ErrProtocol, v.ContextID, a.ctx)
	}
	if v.Command {
		if a.cmdDone {
			return fmt.Errorf("%w: command fragment after the command set ended", ErrProtocol)
		}
		if len(a.cmdBuf)+len(v.Data) > MaxCommandLength {
			return fmt.Errorf("%w: command set longer than %d bytes", ErrProtocol, MaxCommandLength)
		}
		a.cmdBuf = append(a.cmdBuf, v.Data...)
		if !v.Last {
			return nil
		}
		cmd, err := DecodeCommand(a.cmdBuf)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrProtocol, err)
		}
		a.cmdDone, a.command = true, cmd
		if !cmd.HasDataSet {
			a.emit(nil)
		}
		return nil
	}
	if !a.cmdDone {
		return fmt.Errorf("%w: data set fragment before the command set", ErrProtocol)
	}
	if !a.command.HasDataSet {
		return fmt.Errorf("%w: data set fragment for a command without a data set", ErrProtocol)
	}
	limit := a.MaxDataSetLength
	if limit <= 0 {
		limit = DefaultMaxDataSetLength
	}
	if len(a.dataBuf)+len(v.Data) > limit {
		return fmt.Errorf("%w: data set longer than %d bytes", ErrProtocol, limit)
	}
	a.dataBuf = append(a.dataBuf, v.Data...)
	if v.Last {
		// The message owns its data; a fresh buffer keeps the next message
		// from overwriting it while a handler still reads it.
		data := a.dataBuf
		a.dataBuf = nil
		a.emit(data)
	}
	return nil
}

func (a *Assembler) emit(data []byte) {
	if data == nil && a.command.HasDataSet {
		data = []byte{}
	}
	a.complete = append(a.complete, Message{ContextID: a.ctx, Command: a.command, Data: data})
	a.started, a.cmdDone, a.command = false, false, nil
	a.cmdBuf = a.cmdBuf[:0]
}

// InProgress reports whether a message has been started but not finished.
func (a *Assembler) InProgress() bool { return a.started }

// MaxDataPerPDV returns how many data bytes fit in one PDV of a P-DATA-TF
// whose body may be at most peerMax bytes. A peerMax of 0 means the peer
// sets no limit; fallback is then used so that one PDU stays bounded.
func MaxDataPerPDV(peerMax uint32, fallback int) int {
	if peerMax == 0 {
		return max(fallback, 1)
	}
	// A peer advertising fewer bytes than a PDV header cannot be honoured
	// exactly; one data byte per PDV is the closest we can come.
	return max(int(min(uint64(peerMax), 1<<30))-pdu.PDVOverhead, 1)
}

// Fragmenter encodes messages into P-DATA-TF PDUs. It reuses its buffer, so
// a message costs one Write call and no allocation once warm.
type Fragmenter struct {
	// PeerMaxPDU is the peer's advertised maximum length; 0 means none.
	PeerMaxPDU uint32
	buf        []byte
	cmd        []byte
}

// unlimitedChunk is the PDV size used when the peer sets no limit.
const unlimitedChunk = 64 << 10

// Append appends the PDUs carrying command (and data, if cmd.HasDataSet) on
// presentation context ctxID to b.
func (f *Fragmenter) Append(b []byte, ctxID byte, cmd *Command, data []byte) ([]byte, error) {
	var err error
	f.cmd, err = cmd.Encode(f.cmd[:0])
	if err != nil {
		return nil, err
	}
	chunk := MaxDataPerPDV(f.PeerMaxPDU, unlimitedChunk)
	b = AppendFragments(b, ctxID, true, f.cmd, chunk)
	if cmd.HasDataSet {
		b = AppendFragments(b, ctxID, false, data, chunk)
	}
	return b, nil
}

// Write encodes the message and writes it with a single Write call.
func (f *Fragmenter) Write(w io.Writer, ctxID byte, cmd *Command, data []byte) error {
	var err error
	f.buf, err = f.Append(f.buf[:0], ctxID, cmd, data)
	if err != nil {
		return err
	}
	_, err = w.Write(f.buf)
	if cap(f.buf) > 1<<20 {
		f.buf = nil // don't pin a large answer's buffer for the association's life
	}
	return err
}

// AppendFragments appends P-DATA-TF PDUs, one PDV each, carrying data split
// into pieces of at most chunk bytes; the last PDV has the Last bit. Empty
// data still produces one (empty, last) PDV, as PS3.8 requires every command
// and data set to be terminated.
func AppendFragments(b []byte, ctxID byte, command bool, data []byte, chunk int) []byte {
	chunk = max(chunk, 1)
	for {
		n := min(len(data), chunk)
		last := n == len(data)
		pduLen := n + pdu.PDVOverhead
		b = append(b, byte(pdu.TypePDataTF), 0, byte(pduLen>>24), byte(pduLen>>16), byte(pduLen>>8), byte(pduLen))
		b = pdu.AppendPDV(b, pdu.PDV{ContextID: ctxID, Command: command, Last: last, Data: data[:n]})
		data = data[n:]
		if last {
			return b
		}
	}
}

// Packer appends messages to an output buffer as P-DATA-TF PDUs in which a
// message's command set and data set share PDUs as far as the peer's maximum
// PDU length allows: a short C-FIND response is one PDU rather than two,
// which halves the PDUs the peer reads. PS3.8 9.3.5 lets a P-DATA-TF carry
// several PDVs. Every message still starts a new PDU: DCMTK 3.6.7's findscu
// crashes on a PDU that ends one response and begins the next.
type Packer struct {
	// PeerMaxPDU is the peer's advertised maximum length; 0 means none.
	PeerMaxPDU uint32
	cmd        []byte
	open       int // offset in the buffer of the PDU being filled
}

// Append encodes cmd and appends the message to b.
func (p *Packer) Append(b []byte, ctxID byte, cmd *Command, data []byte) ([]byte, error) {
	var err error
	p.cmd, err = cmd.Encode(p.cmd[:0])
	if err != nil {
		return b, err
	}
	return p.AppendEncoded(b, ctxID, p.cmd, cmd.HasDataSet, data), nil
}

// AppendEncoded is Append for a command set already encoded, for a command
// sent many times (the pending C-FIND-RSP of one query).
func (p *Packer) AppendEncoded(b []byte, ctxID byte, cmd []byte, hasData bool, data []byte) []byte {
	chunk := MaxDataPerPDV(p.PeerMaxPDU, unlimitedChunk)
	p.open = -1
	b = p.appendFragments(b, ctxID, true, cmd, chunk)
	if hasData {
		b = p.appendFragments(b, ctxID, false, data, chunk)
	}
	return b
}

func (p *Packer) appendFragments(b []byte, ctxID byte, command bool, data []byte, chunk int) []byte {
	limit := unlimitedChunk + pdu.PDVOverhead
	if p.PeerMaxPDU != 0 {
		limit = int(min(uint64(p.PeerMaxPDU), 1<<30))
	}
	const hdr = 6 // PDU type, reserved byte, 4-byte length
	for {
		n := min(len(data), chunk)
		last := n == len(data)
		item := n + pdu.PDVOverhead
		// A PDV too big for the limit (a peer advertising fewer bytes
		// than a PDV header) still goes out, alone in its PDU.
		if body := len(b) - p.open - hdr; p.open < 0 || (body > 0 && body+item > limit) {
			p.open = len(b)
			b = append(b, byte(pdu.TypePDataTF), 0, 0, 0, 0, 0)
		}
		b = pdu.AppendPDV(b, pdu.PDV{ContextID: ctxID, Command: command, Last: last, Data: data[:n]})
		body := len(b) - p.open - hdr
		b[p.open+2], b[p.open+3], b[p.open+4], b[p.open+5] = byte(body>>24), byte(body>>16), byte(body>>8), byte(body)
		data = data[n:]
		if last {
			return b
		}
	}
}
