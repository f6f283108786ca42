package audit

import (
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Records live in segment files, the database holds their chain and their
// index. A batch of records is appended to the current segment in one
// write; the callers of records that need no sync (see SyncChanges) are
// answered then, the others after an fdatasync, which runs at once for
// them and otherwise at most SyncInterval after the first unsynced write.
// The database is brought up to date behind the syncs, in larger
// transactions that need no sync of their own, and stores where each
// record's frame is rather than a second copy of it; it never takes in a
// record before its frame is synced. After a crash, Open indexes what the
// segments hold beyond the database's last transaction, so an acknowledged
// record is never lost to a crash of the process, and a power loss loses
// only records written but not yet synced.
//
// A segment is named <database>.seg.<epoch>. It starts with a header,
// segmentMagic and the epoch (big-endian uint64), followed by frames: the
// payload's length and its CRC-32C (big-endian uint32 each), then the
// payload, a record's JSON exactly as it is hashed. A length of zero marks
// the end: the file is extended with zeros ahead of the frames, so that
// syncing a batch does not also have to sync the file's new size. The writer
// moves to a new epoch when a segment grows past segmentRotateSize, and at
// every Open. The database's meta table holds the epoch and offset of the
// last frame it took in. Prune removes segments whose records are all gone.
//
// The hash chain is built as records enter the database: records not yet
// indexed are as unprotected as records after the last checkpoint, and no
// more. A frame whose bytes were changed reads as a record whose body does
// not match its hash.

const (
	segmentMagic      = "OKMSAUD\x01"
	segmentHeaderSize = len(segmentMagic) + 8
	frameHeaderSize   = 8
	// segmentRotateSize bounds a segment, and so what Prune can remove.
	segmentRotateSize = 64 << 20
	// zeroAhead is how far the writer extends a segment with zeros at a
	// time.
	zeroAhead = 1 << 20
	// maxFrame bounds a frame when reading, so that a damaged length cannot
	// make a reader allocate gigabytes. Records are far smaller.
	maxFrame = 16 << 20
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// segmentPath names the segment of epoch next to the database at path.
func segmentPath(path string, epoch uint64) string {
	return path + ".seg." + strconv.FormatUint(epoch, 10)
}

// segmentFiles lists the epochs of the segments beside the database at
// path, in order.
func segmentFiles(path string) ([]uint64, error) {
	matches, err := filepath.Glob(globEscape(path) + ".seg.*")
	if err != nil {
		return nil, err
	}
	prefix := path + ".seg."
	var epochs []uint64
	for _, m := range matches {
		e, err := strconv.ParseUint(strings.TrimPrefix(m, prefix), 10, 64)
		if err != nil || segmentPath(path, e) != m {
			continue // not ours: a stray name that merely looks alike
		}
		epochs = append(epochs, e)
	}
	slices.Sort(epochs)
	return epochs, nil
}

// globEscape quotes the pattern characters of a file name.
func globEscape(s string) string {
	var b strings.Builder
	for _, c := range s {
		if strings.ContainsRune(`*?[\`, c) {
			b.WriteByte('\\')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// segment is the file the writer appends to. Owned by the writer goroutine.
type segment struct {
	path   string // the database's
	epoch  uint64
	f      *os.File
	end    int64  // offset after the last frame written
	zeroed int64  // the file holds zeros from end up to here
	buf    []byte // reused for each batch's frames
}

// createSegment creates (or truncates) the segment of epoch, writes its
// header and makes the file and its name durable.
func createSegment(path string, epoch uint64) (*segment, error) {
	name := segmentPath(path, epoch)
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, err
	}
	hdr := binary.BigEndian.AppendUint64([]byte(segmentMagic), epoch)
	if _, err := f.WriteAt(hdr, 0); err != nil {
		f.Close()
		return nil, err
	}
	if err := errors.Join(f.Sync(), syncDir(filepath.Dir(name))); err != nil {
		f.Close()
		return nil, err
	}
	s := int64(segmentHeaderSize)
	return &segment{path: path, epoch: epoch, f: f, end: s, zeroed: s}, nil
}

// syncDir makes the names in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	return errors.Join(d.Sync(), d.Close())
}

// appendFrames writes one frame per body after the last one written and
// returns the offset of the first frame. On failure it writes
// zeros over what it wrote, so that the next batch follows the last good
// frame and replay stops there (it stops at the first bad frame: a partial
// batch could not be told from a torn write).
func (s *segment) appendFrames(bodies [][]byte) (int64, error) {
	buf := s.buf[:0]
	for _, b := range bodies {
		buf = binary.BigEndian.AppendUint32(buf, uint32(len(b)))
		buf = binary.BigEndian.AppendUint32(buf, crc32.Checksum(b, crcTable))
		buf = append(buf, b...)
	}
	s.buf = buf
	start := s.end
	if err := s.write(buf); err != nil {
		return 0, errors.Join(err, s.clear(int64(len(buf))))
	}
	s.end += int64(len(buf))
	if cap(s.buf) > 1<<20 {
		s.buf = nil // one huge batch should not pin its buffer forever
	}
	return start, nil
}

// write writes b at end, extending the zeros first if b would reach past
// them: then most syncs have no new file size to write, only data (which
// halves their cost on common file systems).
func (s *segment) write(b []byte) error {
	if need := s.end + int64(len(b)) + frameHeaderSize; need > s.zeroed {
		for s.zeroed < need {
			if _, err := s.f.WriteAt(zeros[:], s.zeroed); err != nil {
				return err
			}
			s.zeroed += int64(len(zeros))
		}
	}
	_, err := s.f.WriteAt(b, s.end)
	return err
}

// sync makes what was written durable.
func (s *segment) sync() error { return datasync(s.f) }

// clear zeros n bytes after the last good frame, after a failed write.
func (s *segment) clear(n int64) error {
	for off := s.end; off < s.end+n; off += int64(len(zeros)) {
		if _, err := s.f.WriteAt(zeros[:min(int64(len(zeros)), s.end+n-off)], off); err != nil {
			return err
		}
	}
	return datasync(s.f)
}

// zeros is what segments are extended with, zeroAhead at a time.
var zeros [zeroAhead]byte

func (s *segment) close() error { return s.f.Close() }

// readSegment reads the frames of the segment of epoch from offset from
// (or from the first frame, if from is before it) and calls fn with each
// body and the offsets of its frame and after it. It stops quietly at the
// end, or at the first frame that is cut short or fails its checksum: only
// a batch that was never acknowledged can be torn. A file too short for its
// header is empty (a crash while it was created); a header that is not a
// segment's is an error.
func readSegment(path string, epoch uint64, from int64, fn func(body []byte, at, end int64) error) error {
	f, err := os.Open(segmentPath(path, epoch))
	if err != nil {
		return err
	}
	defer f.Close()
	if err := checkHeader(f, epoch); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			return nil
		}
		// A header that is ours up to where only zeros follow was cut
		// off, as a power loss cuts a tail: a segment without frames.
		if st, herr := readHeader(f, epoch); herr == nil && st == headerCut {
			return nil
		}
		return fmt.Errorf("%s: %w", segmentPath(path, epoch), err)
	}
	off := max(from, int64(segmentHeaderSize))
	for {
		body, err := readFrame(f, off)
		if errors.Is(err, errNoFrame) {
			return nil
		}
		if err != nil {
			return err
		}
		next := off + frameHeaderSize + int64(len(body))
		if err := fn(body, off, next); err != nil {
			return err
		}
		off = next
	}
}

func checkHeader(f *os.File, epoch uint64) error {
	hdr := make([]byte, segmentHeaderSize)
	if _, err := io.ReadFull(io.NewSectionReader(f, 0, int64(len(hdr))), hdr); err != nil {
		return err
	}
	if string(hdr[:len(segmentMagic)]) != segmentMagic || binary.BigEndian.Uint64(hdr[len(segmentMagic):]) != epoch {
		return fmt.Errorf("not an audit segment of epoch %d", epoch)
	}
	return nil
}

// errNoFrame is readFrame's answer where there is no whole, intact frame.
var errNoFrame = errors.New("no intact frame")

// readFrame reads the body of the frame at off.
func readFrame(f *os.File, off int64) ([]byte, error) {
	var head [frameHeaderSize]byte
	if _, err := f.ReadAt(head[:], off); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errNoFrame
		}
		return nil, err
	}
	n := binary.BigEndian.Uint32(head[:])
	if n == 0 || n > maxFrame {
		return nil, errNoFrame
	}
	body := make([]byte, n)
	if _, err := f.ReadAt(body, off+frameHeaderSize); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errNoFrame
		}
		return nil, err
	}
	if crc32.Checksum(body, crcTable) != binary.BigEndian.Uint32(head[4:]) {
		return nil, errNoFrame
	}
	return body, nil
}

// segmentReader reads records' frames for readers of the database, keeping
// the segments it has opened.
type segmentReader struct {
	path  string
	mu    sync.Mutex
	files map[uint64]*os.File
}

func newSegmentReader(path string) *segmentReader {
	return &segmentReader{path: path, files: map[uint64]*os.File{}}
}

// errLost marks a record whose frame is not there to read (see [Reader]).
var errLost = errors.New("the record's frame is lost")

// body reads the record whose frame is at off in the segment of epoch. A
// frame that is not there to read (its segment missing, cut in its header
// or another's; the frame cut short or damaged) is an error wrapping
// errLost; the reader's own failures, such as I/O errors, are not.
func (r *segmentReader) body(epoch uint64, off int64) ([]byte, error) {
	f, err := r.file(epoch)
	if err != nil {
		h, herr := segmentHeader(segmentPath(r.path, epoch), epoch)
		if errors.Is(herr, os.ErrNotExist) || herr == nil && h != headerWhole {
			return nil, fmt.Errorf("%w: %w", errLost, err)
		}
		return nil, err
	}
	b, err := readFrame(f, off)
	if errors.Is(err, errNoFrame) {
		return nil, fmt.Errorf("%w: segment %d has no intact record at offset %d", errLost, epoch, off)
	}
	return b, err
}

func (r *segmentReader) file(epoch uint64) (*os.File, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if f, ok := r.files[epoch]; ok {
		return f, nil
	}
	f, err := os.Open(segmentPath(r.path, epoch))
	if err != nil {
		return nil, err
	}
	if err := checkHeader(f, epoch); err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", segmentPath(r.path, epoch), err)
	}
	r.files[epoch] = f
	return f, nil
}

// recordBody is the JSON of a stored record: the body column, or, if that
// is empty, the frame at off in segment seg.
func (r *segmentReader) recordBody(body []byte, seg, off sql.NullInt64) ([]byte, error) {
	if len(body) > 0 || !seg.Valid || !off.Valid {
		return body, nil
	}
	return r.body(uint64(seg.Int64), off.Int64)
}

// forget closes the segments before epoch (Prune removed them).
func (r *segmentReader) forget(epoch uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for e, f := range r.files {
		if e < epoch {
			f.Close()
			delete(r.files, e)
		}
	}
}

func (r *segmentReader) close() error {
	r.forget(^uint64(0))
	return nil
}

// Readers in other processes (OpenReader, Verify) see a record once the
// server has indexed it, which it does a few milliseconds after the record
// was made durable. So that a record appended before such a reader starts
// is not missed, they first wait for the database to take in what the
// segments held when they started; if the server is not running (it takes
// them in when it starts), they stop waiting after indexWait.
var indexWait = 2 * time.Second // a variable for tests

type queryer interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}

// indexedUpTo reads the segment position the database has taken in up to.
func indexedUpTo(ctx context.Context, q queryer) (epoch uint64, off int64, err error) {
	read := func(name string) (int64, error) {
		var s string
		err := q.QueryRowContext(ctx, `SELECT value FROM meta WHERE name = ?`, name).Scan(&s)
		if errors.Is(err, sql.ErrNoRows) {
			return 0, nil // nothing indexed from segments yet
		}
		if err != nil {
			return 0, err
		}
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil || v < 0 {
			return 0, fmt.Errorf("meta %s = %q", name, s)
		}
		return v, nil
	}
	e, err := read("segment_epoch")
	if err != nil {
		return 0, 0, err
	}
	if off, err = read("segment_offset"); err != nil {
		return 0, 0, err
	}
	return uint64(e), off, nil
}

// unindexed counts the records in the segments after position (epoch, off)
// and returns the position after the last.
func unindexed(path string, epoch uint64, off int64) (n int, endEpoch uint64, end int64, err error) {
	epochs, err := segmentFiles(path)
	if err != nil {
		return 0, 0, 0, err
	}
	endEpoch, end = epoch, off
	for _, e := range epochs {
		if e < epoch {
			continue
		}
		from := int64(0)
		if e == epoch {
			from = off
		}
		err := readSegment(path, e, from, func(_ []byte, _, next int64) error {
			n++
			endEpoch, end = e, next
			return nil
		})
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return 0, 0, 0, err
		}
	}
	return n, endEpoch, end, nil
}

// waitIndexed waits, up to indexWait, until the database at path has taken
// in the records its segments hold now. It returns how many it has not.
func waitIndexed(ctx context.Context, db *sql.DB, path string) (int, error) {
	epoch, off, err := indexedUpTo(ctx, db)
	if err != nil {
		return 0, err
	}
	n, wantEpoch, want, err := unindexed(path, epoch, off)
	if err != nil || n == 0 {
		return 0, err
	}
	deadline := time.Now().Add(indexWait)
	for time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
		if epoch, off, err = indexedUpTo(ctx, db); err != nil {
			return 0, err
		}
		if epoch > wantEpoch || epoch == wantEpoch && off >= want {
			return 0, nil
		}
	}
	n, _, _, err = unindexed(path, epoch, off)
	return n, err
}
