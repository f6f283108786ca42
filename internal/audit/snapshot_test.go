package audit

import (
	"io"
	"os"
	"path/filepath"
	"testing"
)

// TestSnapshot: a snapshot taken while records are appended, whose
// segments are then deleted (as a prune would), still copies them; the
// copy opens as a log holding every record appended before the snapshot
// began, and verifies.
func TestSnapshot(t *testing.T) {
	cfg := testConfig(t)
	cfg.segmentSize = 4 << 10 // several segments
	l := openLog(t, cfg)
	before := appendN(t, l, "us-east-1", 60)
	stop := make(chan struct{})
	done := make(chan int)
	go func() {
		n := 0
		defer func() { done <- n }()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if err := l.Append(t.Context(), kmsRecord("us-east-1", "Decrypt", keyID2)); err != nil {
				t.Error(err)
				return
			}
			n++
		}
	}()
	tmp := t.TempDir()
	snap, err := TakeSnapshot(t.Context(), cfg.Path, tmp)
	close(stop)
	during := <-done
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Close()
	if len(snap.Segments) < 2 {
		t.Fatalf("%d segments", len(snap.Segments))
	}
	l.Close()
	for _, s := range snap.Segments {
		if err := os.Remove(filepath.Join(filepath.Dir(cfg.Path), s.Name)); err != nil {
			t.Fatal(err)
		}
	}

	copyDir := t.TempDir()
	copyPath := filepath.Join(copyDir, "audit.db")
	if err := os.Rename(snap.Index, copyPath); err != nil {
		t.Fatal(err)
	}
	for _, s := range snap.Segments {
		f, err := os.OpenFile(filepath.Join(copyDir, s.Name), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(f, io.NewSectionReader(s.File, 0, s.Size)); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	c := cfg
	c.Path = copyPath
	openLog(t, c).Close()
	rep := mustVerify(t, copyPath, cfg.Signer)
	got := regionReport(t, rep, "us-east-1").Records
	if got < uint64(len(before)) || got > uint64(len(before)+during) {
		t.Fatalf("the copy holds %d records; %d were appended before the snapshot, %d during it", got, len(before), during)
	}
}
