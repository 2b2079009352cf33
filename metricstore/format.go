package metricstore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"os"
)

// tier is one ring of a series file. The set is fixed: it is part of the
// file format (a file records its layout and is refused if it differs).
type tier struct {
	res   int64 // seconds per bucket
	slots int64 // buckets in the ring
}

// tiers run finest to coarsest; Query walks them in this order.
var tiers = [...]tier{
	{res: 10, slots: 2160},    // 6 hours
	{res: 60, slots: 2880},    // 2 days
	{res: 1800, slots: 672},   // 2 weeks
	{res: 21600, slots: 1460}, // a year (365 days)
}

// bucket is the start of the bucket holding sec (sec > 0).
func (t tier) bucket(sec int64) int64 { return sec - sec%t.res }

// index is the ring slot of the bucket starting at b.
func (t tier) index(b int64) int64 { return (b / t.res) % t.slots }

// span is how far back the ring reaches.
func (t tier) span() int64 { return t.res * t.slots }

const (
	magic         = "NCMETRIC"
	formatVersion = 1
	// headerSize is one page, so the rings start page-aligned and a header
	// write never shares a page with a slot.
	headerSize = 4096
	// offNewest is where the header keeps the newest sample's time; it is
	// rewritten with every newer sample and left out of the checksum.
	offNewest = 16
	offTiers  = 24
	offNames  = offTiers + 4 + 8*len(tiers)
	offCRC    = headerSize - 4
	// maxCount is where a slot's per-field sample count saturates.
	maxCount = math.MaxUint16
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// layout is where things are in the file of a series with n fields.
type layout struct {
	nfields  int
	slotSize int64
	tierOff  [len(tiers)]int64
	size     int64
}

func newLayout(nfields int) layout {
	l := layout{nfields: nfields, slotSize: 8 + 10*int64(nfields)}
	off := int64(headerSize)
	for i, t := range tiers {
		l.tierOff[i] = off
		off += t.slots * l.slotSize
	}
	l.size = off
	return l
}

// slotOff is the file offset of ring slot idx of tier ti.
func (l layout) slotOff(ti int, idx int64) int64 { return l.tierOff[ti] + idx*l.slotSize }

// header is what a series file says about itself.
type header struct {
	key    string
	fields []string
	newest int64 // Unix seconds of the newest sample, 0 if none
}

func (h header) encode() []byte {
	b := make([]byte, headerSize)
	copy(b, magic)
	le := binary.LittleEndian
	le.PutUint32(b[8:], formatVersion)
	le.PutUint32(b[12:], uint32(len(h.fields)))
	le.PutUint64(b[offNewest:], uint64(h.newest))
	le.PutUint32(b[offTiers:], uint32(len(tiers)))
	for i, t := range tiers {
		le.PutUint32(b[offTiers+4+8*i:], uint32(t.res))
		le.PutUint32(b[offTiers+8+8*i:], uint32(t.slots))
	}
	p := offNames
	for _, s := range append([]string{h.key}, h.fields...) {
		b[p] = byte(len(s))
		p += 1 + copy(b[p+1:], s)
	}
	le.PutUint32(b[offCRC:], headerCRC(b))
	return b
}

func headerCRC(b []byte) uint32 {
	c := crc32.Update(0, castagnoli, b[:offNewest])
	return crc32.Update(c, castagnoli, b[offTiers:offCRC])
}

// errShape is the reason decodeHeader gives for anything not this format.
var errShape = errors.New("not a series file of this format")

func decodeHeader(b []byte) (header, error) {
	le := binary.LittleEndian
	if len(b) < headerSize || string(b[:8]) != magic {
		return header{}, errShape
	}
	if v := le.Uint32(b[8:]); v != formatVersion {
		return header{}, fmt.Errorf("format version %d, this build reads %d", v, formatVersion)
	}
	if le.Uint32(b[offCRC:]) != headerCRC(b) {
		return header{}, errors.New("header checksum mismatch")
	}
	n := int(le.Uint32(b[12:]))
	if n < 1 || n > MaxFields || le.Uint32(b[offTiers:]) != uint32(len(tiers)) {
		return header{}, errShape
	}
	for i, t := range tiers {
		if int64(le.Uint32(b[offTiers+4+8*i:])) != t.res || int64(le.Uint32(b[offTiers+8+8*i:])) != t.slots {
			return header{}, errors.New("tier layout differs from this build's")
		}
	}
	h := header{newest: int64(le.Uint64(b[offNewest:]))}
	p := offNames
	names := make([]string, 0, n+1)
	for range n + 1 {
		l := int(b[p])
		if p+1+l > offCRC {
			return header{}, errShape
		}
		names = append(names, string(b[p+1:p+1+l]))
		p += 1 + l
	}
	h.key, h.fields = names[0], names[1:]
	if checkKey(h.key) != nil || checkFields(h.fields) != nil || h.newest < 0 {
		return header{}, errShape
	}
	return h, nil
}

// readHeader reads and checks the header of an open file against the key
// its name says it holds and the size its field count implies.
func readHeader(f *os.File, key string) (header, layout, error) {
	b := make([]byte, headerSize)
	if _, err := f.ReadAt(b, 0); err != nil {
		if errors.Is(err, io.EOF) {
			return header{}, layout{}, fmt.Errorf("%w: shorter than its header", ErrDamaged)
		}
		return header{}, layout{}, err
	}
	h, err := decodeHeader(b)
	if err != nil {
		return header{}, layout{}, fmt.Errorf("%w: %v", ErrDamaged, err)
	}
	if h.key != key {
		return header{}, layout{}, fmt.Errorf("%w: holds key %q", ErrDamaged, h.key)
	}
	l := newLayout(len(h.fields))
	st, err := f.Stat()
	if err != nil {
		return header{}, layout{}, err
	}
	if st.Size() != l.size {
		return header{}, layout{}, fmt.Errorf("%w: %d bytes, %d fields need %d", ErrDamaged, st.Size(), len(h.fields), l.size)
	}
	return h, l, nil
}

// acc is one bucket being read or written: the running sum, count and maximum
// of each field. The sum is kept in float64 so a bucket of thousands of
// samples does not drift; only the stored average is float32.
type acc struct {
	start int64
	sum   []float64
	max   []float64
	n     []uint32
}

func newAcc(nfields int) acc {
	return acc{sum: make([]float64, nfields), max: make([]float64, nfields), n: make([]uint32, nfields)}
}

// reset empties the accumulator for the bucket starting at start.
func (a *acc) reset(start int64) {
	a.start = start
	clear(a.sum)
	clear(a.max)
	clear(a.n)
}

// fold adds one sample; non-finite values mean "not measured".
func (a *acc) fold(vals []float64) {
	for j, v := range vals {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			continue
		}
		if a.n[j] == 0 || v > a.max[j] {
			a.max[j] = v
		}
		a.sum[j] += v
		a.n[j]++
	}
}

// encode writes the slot image of a into b (len slotSize).
func (a *acc) encode(b []byte) {
	le := binary.LittleEndian
	nf := len(a.n)
	le.PutUint64(b, uint64(a.start))
	for j := range nf {
		avg, top := float32(math.NaN()), float32(math.NaN())
		if a.n[j] > 0 {
			avg, top = float32(a.sum[j]/float64(a.n[j])), float32(a.max[j])
		}
		le.PutUint32(b[8+4*j:], math.Float32bits(avg))
		le.PutUint32(b[8+4*nf+4*j:], math.Float32bits(top))
		le.PutUint16(b[8+8*nf+2*j:], uint16(min(a.n[j], maxCount)))
	}
}

// slotStart is the bucket start a slot image holds, 0 if never written.
func slotStart(b []byte) int64 { return int64(binary.LittleEndian.Uint64(b)) }

// slotField decodes field j of a slot image of nf fields.
func slotField(b []byte, nf, j int) (avg, top float64, n uint32) {
	le := binary.LittleEndian
	n = uint32(le.Uint16(b[8+8*nf+2*j:]))
	avg = float64(math.Float32frombits(le.Uint32(b[8+4*j:])))
	top = float64(math.Float32frombits(le.Uint32(b[8+4*nf+4*j:])))
	return avg, top, n
}

// decode loads a slot image into a, resuming its running sums.
func (a *acc) decode(b []byte) {
	a.start = slotStart(b)
	for j := range a.n {
		avg, top, n := slotField(b, len(a.n), j)
		a.sum[j], a.max[j], a.n[j] = avg*float64(n), top, n
		if n == 0 {
			a.sum[j], a.max[j] = 0, 0
		}
	}
}
