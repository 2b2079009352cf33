// Package metricstore keeps a host's own metrics history (the host itself and
// each of its VMs, sampled every 10 s) in fixed-size files on the host's disk,
// and answers range queries over it.
//
// # Model
//
// A series is named by a key ("vm/<uuid>", "node/<uuid>") and has a fixed,
// ordered list of field names given by its first Write. Every sample is folded
// into four tiers at once, each a ring of buckets:
//
//	10 s   for 6 hours   (2,160 slots)
//	1 min  for 2 days    (2,880 slots)
//	30 min for 2 weeks   (672 slots)
//	6 h    for a year    (1,460 slots)
//
// A bucket keeps, per field, the average, the maximum and the number of
// samples that fell in it, so a 10 s spike still shows as the maximum of its
// 6 h bucket a year later, and buckets combine into coarser query steps with
// the average weighted by sample counts. NaN (and ±Inf) in a sample means
// "not measured" and is left out of that field's bucket.
//
// A query reads one tier: the finest whose span still reaches back to `from`,
// with its step rounded up to a multiple of that tier's resolution (so asking
// for 10 s steps three days back yields 30 min steps; Result.Step says which).
// Points are aligned to multiples of the step since the Unix epoch.
//
// # Files
//
// One file per series, named from its key ('/' becomes '+', ':' becomes '=',
// then ".series"; keys allow nothing else that a file system could read as a
// path). The file never grows: a 4 KiB header (magic, format version, key,
// field names, tier layout, CRC-32C, and the time of the newest sample), then
// the four rings one after the other. A slot is the bucket's start (int64 Unix
// seconds, 0 = never written), then per field the average (float32), the
// maximum (float32) and the sample count (uint16, saturating at 65,535, far
// above the 2,160 samples a 6 h bucket gets at 10 s). A slot whose start is
// not the bucket a reader expects is stale and reads as empty, which is how a
// ring forgets and how a gap (host down) shows: nothing to clean up.
//
// Size: 4,096 + 7,172 × (8 + 10 × fields) bytes, which is 900.5 KiB for a VM
// of 12 fields (88 MiB for 100 VMs), 2.25 MiB at the maximum of 32 fields.
// Values keep float32 precision, about 7 significant digits.
//
// # Costs and durability
//
// The open bucket of each tier is kept in memory (running sum, count, max per
// field), so a sample costs five pwrite calls and no read: the header's newest
// time, then one slot per tier. Nothing is fsynced: a killed process loses
// nothing (the writes are in the kernel), a host crash may lose the last
// seconds the kernel had not flushed, which metrics can afford.
//
// # Time
//
// A sample newer than the open bucket opens a new one. An older sample (a late
// collector) is folded into its bucket in each tier whose ring still holds
// that bucket (a read and a write of the slot) and dropped from the others;
// one that no tier can hold, or one more than two minutes ahead of Options.Now,
// is refused with ErrSampleTime so a skewed clock cannot push the rings
// forward.
//
// # Damage
//
// Open checks every file's header and size; a file that is short, of another
// format, or whose header fails its checksum is logged, renamed to
// "<file>.damaged" (one kept per series, for inspection) and forgotten, and
// the next Write of that key starts a new file. A file damaged after Open is
// found when the series is first loaded: Query returns ErrDamaged, Write
// replaces it (a file changed under an open series gives read errors). Torn
// slot values after a power cut are not detected; they spoil one bucket.
//
// A Store is safe for concurrent use; one Store per directory.
package metricstore
