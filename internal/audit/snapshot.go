package audit

import (
	"context"
	"errors"
	"os"
	"path/filepath"

	"github.com/openkms/kms/internal/store/sqlite"
)

// A Snapshot is a copy of an audit log that a backup can take while the
// log is being written: a copy of its database as of one transaction, and
// its segments open for reading, each as long as it was once the database
// was copied. Restored side by side (the database under the log's name,
// each segment under its Name), they are a log as a crash would leave it:
// everything the database indexes is in the segments, and Open indexes
// what the segments hold beyond it.
type Snapshot struct {
	Index    string // the database's copy, in the directory given to TakeSnapshot
	Segments []SnapshotSegment
}

// SnapshotSegment is one segment of a Snapshot: its file name and the
// part of it to copy.
type SnapshotSegment struct {
	Name string
	File *os.File
	Size int64
}

// TakeSnapshot takes a Snapshot of the log at path, putting the copy of its
// database into dir. The caller closes the snapshot and removes the copy.
func TakeSnapshot(ctx context.Context, path, dir string) (*Snapshot, error) {
	s := &Snapshot{}
	opened := map[uint64]*os.File{}
	openAll := func() error {
		epochs, err := segmentFiles(path)
		if err != nil {
			return err
		}
		for _, e := range epochs {
			if opened[e] != nil {
				continue
			}
			f, err := os.Open(segmentPath(path, e))
			if errors.Is(err, os.ErrNotExist) {
				continue // pruned meanwhile: the copy will not point into it
			}
			if err != nil {
				return err
			}
			opened[e] = f
			s.Segments = append(s.Segments, SnapshotSegment{Name: filepath.Base(f.Name()), File: f})
		}
		return nil
	}
	// Segments are opened before the database is copied, so that one
	// pruned meanwhile stays readable for as long as the copy may point
	// into it; those begun meanwhile are opened after.
	err := openAll()
	if err == nil {
		s.Index = filepath.Join(dir, filepath.Base(path))
		err = sqlite.Snapshot(ctx, path, s.Index)
	}
	if err == nil {
		err = openAll()
	}
	for i := range s.Segments {
		if err != nil {
			break
		}
		var fi os.FileInfo
		if fi, err = s.Segments[i].File.Stat(); err == nil {
			s.Segments[i].Size = fi.Size()
		}
	}
	if err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// Close closes the segments.
func (s *Snapshot) Close() error {
	var errs []error
	for _, seg := range s.Segments {
		errs = append(errs, seg.File.Close())
	}
	return errors.Join(errs...)
}
