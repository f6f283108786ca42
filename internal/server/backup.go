package server

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/openkms/kms/internal/audit"
	"github.com/openkms/kms/internal/seal"
	"github.com/openkms/kms/internal/store/sqlite"
)

// A backup is a tar archive (so that tar(1) lists and extracts it) of the
// files of a data dir, in this order: a manifest, seal.json, a copy of the
// store, a copy of the audit log's database, the audit segments, and
// SHA256SUMS of everything before it (`sha256sum -c` checks an extracted
// backup). Never the root key, the passphrase or the credentials file:
// everything secret in a backup is sealed, so it is as safe as the seal.
const (
	backupManifest = "kms-backup.json"
	backupSums     = "SHA256SUMS"
	backupFormat   = 1
	sealFile       = "seal.json"
	keyFile        = "root.key"
)

// segmentName matches the audit segments' file names in a backup.
var segmentName = regexp.MustCompile(`^` + regexp.QuoteMeta(auditFile) + `\.seg\.[0-9]{1,20}$`)

type manifest struct {
	Format  int       `json:"format"`
	Created time.Time `json:"created"`
}

// BackupSummary is what a backup or a restore wrote.
type BackupSummary struct {
	Files int
	Bytes int64 // of the files' contents
}

// Backup writes a backup of dataDir to w. It takes no lock and only reads
// the data dir, so it runs beside a server that goes on serving: the store
// is copied as of one transaction, then the audit log, whose segments
// then hold the record of every change in that copy (a change is
// answered only after its record is synced). Copies of the two databases
// are made in a temporary directory in tmpDir and removed after. progress,
// if not nil, is called as the archive grows, with the bytes of file
// contents written and the total.
func Backup(ctx context.Context, dataDir, tmpDir string, w io.Writer, progress func(done, total int64)) (BackupSummary, error) {
	var sum BackupSummary
	sealData, err := os.ReadFile(filepath.Join(dataDir, sealFile))
	if err != nil {
		return sum, fmt.Errorf("data dir %s: %w", dataDir, err)
	}
	tmp, err := os.MkdirTemp(tmpDir, "kms-backup-")
	if err != nil {
		return sum, err
	}
	defer os.RemoveAll(tmp)
	storeCopy := filepath.Join(tmp, dbFile)
	if err := sqlite.Snapshot(ctx, filepath.Join(dataDir, dbFile), storeCopy); err != nil {
		return sum, fmt.Errorf("store: %w", err)
	}
	snap, err := audit.TakeSnapshot(ctx, AuditPath(dataDir), tmp)
	if err != nil {
		return sum, fmt.Errorf("audit log: %w", err)
	}
	defer snap.Close()

	type entry struct {
		name string
		size int64
		open func() (io.Reader, func() error, error)
	}
	file := func(name, path string) (entry, error) {
		fi, err := os.Stat(path)
		if err != nil {
			return entry{}, err
		}
		return entry{name, fi.Size(), func() (io.Reader, func() error, error) {
			f, err := os.Open(path)
			if err != nil {
				return nil, nil, err
			}
			return io.LimitReader(f, fi.Size()), f.Close, nil
		}}, nil
	}
	mdata, err := json.Marshal(manifest{Format: backupFormat, Created: time.Now().UTC()})
	if err != nil {
		return sum, err
	}
	inMemory := func(name string, b []byte) entry {
		return entry{name, int64(len(b)), func() (io.Reader, func() error, error) {
			return bytes.NewReader(b), func() error { return nil }, nil
		}}
	}
	entries := []entry{inMemory(backupManifest, mdata), inMemory(sealFile, sealData)}
	for _, f := range [][2]string{{dbFile, storeCopy}, {auditFile, snap.Index}} {
		e, err := file(f[0], f[1])
		if err != nil {
			return sum, err
		}
		entries = append(entries, e)
	}
	for _, seg := range snap.Segments {
		entries = append(entries, entry{seg.Name, seg.Size, func() (io.Reader, func() error, error) {
			return io.NewSectionReader(seg.File, 0, seg.Size), func() error { return nil }, nil
		}})
	}
	var total, done int64
	for _, e := range entries {
		total += e.size
	}
	report := func(n int64) {
		done += n
		if progress != nil {
			progress(done, total)
		}
	}

	tw := tar.NewWriter(w)
	var sums strings.Builder
	now := time.Now().UTC().Truncate(time.Second)
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return sum, err
		}
		r, closeFn, err := e.open()
		if err != nil {
			return sum, err
		}
		h := sha256.New()
		err = tw.WriteHeader(&tar.Header{Name: e.name, Mode: 0o600, Size: e.size, ModTime: now, Typeflag: tar.TypeReg, Format: tar.FormatPAX})
		if err == nil {
			err = copyCounting(io.MultiWriter(tw, h), r, e.size, report)
		}
		if cerr := closeFn(); err == nil {
			err = cerr
		}
		if err != nil {
			return sum, fmt.Errorf("backup of %s: %w", e.name, err)
		}
		fmt.Fprintf(&sums, "%x  %s\n", h.Sum(nil), e.name)
		sum.Files++
		sum.Bytes += e.size
	}
	if err := tw.WriteHeader(&tar.Header{Name: backupSums, Mode: 0o600, Size: int64(sums.Len()), ModTime: now, Typeflag: tar.TypeReg, Format: tar.FormatPAX}); err != nil {
		return sum, err
	}
	if _, err := io.WriteString(tw, sums.String()); err != nil {
		return sum, err
	}
	return sum, tw.Close()
}

// BackupToFile writes a backup of dataDir to a new file at path (mode
// 0600), through path.partial renamed once complete and synced, so that a
// file at path is always a whole backup; it refuses an existing path. The
// databases' copies are made beside it.
func BackupToFile(ctx context.Context, dataDir, path string, progress func(done, total int64)) (BackupSummary, error) {
	if _, err := os.Lstat(path); err == nil {
		return BackupSummary{}, fmt.Errorf("%s exists: not overwriting it", path)
	}
	partial := path + ".partial"
	f, err := os.OpenFile(partial, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return BackupSummary{}, err
	}
	sum, err := Backup(ctx, dataDir, filepath.Dir(path), f, progress)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(partial, path)
	}
	if err == nil {
		err = syncDir(filepath.Dir(path))
	}
	if err != nil {
		os.Remove(partial)
	}
	return sum, err
}

// copyCounting copies exactly n bytes, reporting progress every MiB.
func copyCounting(w io.Writer, r io.Reader, n int64, report func(int64)) error {
	buf := make([]byte, 1<<20)
	for n > 0 {
		m, err := io.ReadFull(r, buf[:min(int64(len(buf)), n)])
		if m > 0 {
			if _, werr := w.Write(buf[:m]); werr != nil {
				return werr
			}
			n -= int64(m)
			report(int64(m))
		}
		if err != nil {
			if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
				return fmt.Errorf("file ended %d bytes early", n)
			}
			return err
		}
	}
	return nil
}

// Restore writes the backup read from r into cfg.DataDir, which must not
// exist or hold nothing but the root key file (root.key) a key-file seal
// opens by default. The backup's seal must open with cfg's seal settings
// (SealKeyFile, Passphrase) before anything but seal.json is written, and
// every file must match SHA256SUMS. It holds the data dir's lock while it
// writes; on any failure it removes what it wrote, so the directory is as
// it was.
func Restore(cfg Config, r io.Reader) (sum BackupSummary, err error) {
	dir := cfg.DataDir
	entries, err := os.ReadDir(dir)
	created := errors.Is(err, os.ErrNotExist)
	switch {
	case created:
	case err != nil:
		return sum, err
	default:
		for _, e := range entries {
			if e.Name() != keyFile && e.Name() != lockFile {
				return sum, fmt.Errorf("data dir %s is not empty (it has %s): restore only into a new directory", dir, e.Name())
			}
		}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return sum, err
	}
	_, lerr := os.Lstat(filepath.Join(dir, lockFile))
	hadLock := lerr == nil
	lock, err := lockDataDir(dir)
	if err != nil {
		if created {
			os.RemoveAll(dir)
		}
		return sum, err
	}
	var written []string
	defer func() {
		if err != nil {
			for _, p := range written {
				os.Remove(p)
			}
			switch {
			case created:
				os.RemoveAll(dir)
			case hadLock:
				lock.abandon()
				return
			default:
				os.Remove(filepath.Join(dir, lockFile))
			}
		}
		lock.unlock()
	}()

	tr := tar.NewReader(bufio.NewReaderSize(r, 1<<20))
	hashes := map[string][]byte{}
	var sums []byte
	for i := 0; ; i++ {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return sum, fmt.Errorf("not a kms backup, or a damaged one: %w", err)
		}
		name := h.Name
		if sums != nil {
			return sum, fmt.Errorf("damaged backup: %s after %s", name, backupSums)
		}
		if h.Typeflag != tar.TypeReg || h.Size < 0 {
			return sum, fmt.Errorf("damaged backup: %s is not a regular file", name)
		}
		want := ""
		switch i {
		case 0:
			want = backupManifest
		case 1:
			want = sealFile
		}
		ok := name == want || want == "" && (name == dbFile || name == auditFile || name == backupSums || segmentName.MatchString(name))
		if !ok || hashes[name] != nil {
			if i == 0 {
				return sum, fmt.Errorf("not a kms backup (it starts with %q, not %s)", name, backupManifest)
			}
			return sum, fmt.Errorf("damaged backup: unexpected file %q", name)
		}
		switch name {
		case backupManifest:
			b, err := io.ReadAll(io.LimitReader(tr, 1<<16))
			var m manifest
			if err == nil {
				err = json.Unmarshal(b, &m)
			}
			if err != nil {
				return sum, fmt.Errorf("damaged backup manifest: %w", err)
			}
			if m.Format != backupFormat {
				return sum, fmt.Errorf("backup format %d: this binary restores format %d", m.Format, backupFormat)
			}
			digest := sha256.Sum256(b)
			hashes[name] = digest[:]
			continue
		case backupSums:
			if sums, err = io.ReadAll(io.LimitReader(tr, 1<<20)); err != nil {
				return sum, fmt.Errorf("damaged backup: %w", err)
			}
			continue
		}
		path := filepath.Join(dir, name)
		written = append(written, path)
		digest, err := writeNewFile(path, tr, h.Size)
		if err != nil {
			return sum, fmt.Errorf("restore %s: %w", name, err)
		}
		hashes[name] = digest
		sum.Files++
		sum.Bytes += h.Size
		if name == sealFile {
			// The sealer is dropped at once: only whether it opens matters.
			if _, err := seal.Open(cfg.sealConfig(dir)); err != nil {
				return sum, fmt.Errorf("the backup's seal does not open with the seal given: %w", err)
			}
		}
	}
	if sums == nil {
		return sum, fmt.Errorf("damaged backup: no %s at its end (cut short?)", backupSums)
	}
	if err := checkSums(sums, hashes); err != nil {
		return sum, err
	}
	for _, need := range []string{dbFile, auditFile} {
		if hashes[need] == nil {
			return sum, fmt.Errorf("damaged backup: no %s", need)
		}
	}
	return sum, syncDir(dir)
}

// writeNewFile writes n bytes of r to a new file at path, mode 0600, makes
// them durable, and returns their SHA-256.
func writeNewFile(path string, r io.Reader, n int64) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, err
	}
	var h hash.Hash = sha256.New()
	_, err = io.CopyN(io.MultiWriter(f, h), r, n)
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		err = errors.New("the backup ends inside this file (cut short?)")
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, err
	}
	return h.Sum(nil), nil
}

// checkSums compares SHA256SUMS with the files restored: every file but
// SHA256SUMS itself is listed once and matches.
func checkSums(sums []byte, got map[string][]byte) error {
	listed := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSuffix(string(sums), "\n"), "\n") {
		digest, name, ok := strings.Cut(line, "  ")
		want, err := hex.DecodeString(digest)
		if !ok || err != nil || len(want) != sha256.Size || listed[name] {
			return fmt.Errorf("damaged backup: bad line in %s: %q", backupSums, line)
		}
		listed[name] = true
		if h, ok := got[name]; !ok || !bytes.Equal(h, want) {
			return fmt.Errorf("damaged backup: %s does not match its checksum", name)
		}
	}
	for name := range got {
		if !listed[name] {
			return fmt.Errorf("damaged backup: %s is not in %s", name, backupSums)
		}
	}
	return nil
}
