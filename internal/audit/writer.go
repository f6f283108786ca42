package audit

import (
	"fmt"
	"slices"
	"time"
)

// Records reach disk through three goroutines. The writer appends each
// batch of records to the current segment in one write, and answers the
// callers whose records need no sync. The syncer syncs what the writer
// wrote: at once for records whose callers wait for it (lingering a moment
// while several arrive together), otherwise at most SyncInterval after the
// first unsynced write; it answers the waiting callers and hands the
// synced records to the indexer, which builds the database behind it. So
// a use's answer never waits for a sync, however slow the disk, and the
// index never points at a frame that a power loss could take.

// runWriter is the writer goroutine: it owns the current segment's end.
func (l *Log) runWriter() {
	defer close(l.writerDone)
	retry := time.NewTicker(l.cfg.RetryInterval)
	defer retry.Stop()
	for {
		select {
		case req := <-l.reqs:
			l.writeBatch(l.collect([]*request{req}))
		case <-retry.C:
			if l.segmentHealth() != nil {
				l.segmentProbe()
			}
		case <-l.quit:
			// Close waited for every send in flight: what is queued is all
			// there will be.
			for len(l.reqs) > 0 {
				l.writeBatch(l.collect(nil))
			}
			return
		}
	}
}

func (l *Log) segmentHealth() error {
	l.hmu.Lock()
	defer l.hmu.Unlock()
	return l.segErr
}

// collect adds to batch what is queued, up to MaxBatch. Under SyncAlways,
// while records arrive concurrently (the last batch had company), it
// lingers a moment for those on their way: every caller waits for a sync
// anyway, and one write and one sync for all of them cost less than
// several (on the machines we measure, a sync costs the CPU of a few dozen
// records). A lone caller never waits. 3ms was best at 64 clients. Under
// SyncChanges the writer never waits: uses are answered once written, and
// the syncer groups the changes.
func (l *Log) collect(batch []*request) []*request {
	var linger <-chan time.Time
	if l.cfg.Sync == SyncAlways && l.lastBatch > 1 && l.cfg.GroupCommitDelay > 0 {
		t := time.NewTimer(l.cfg.GroupCommitDelay)
		defer t.Stop()
		linger = t.C
	}
	for len(batch) < l.cfg.MaxBatch {
		select {
		case req := <-l.reqs:
			batch = append(batch, req)
			continue
		default:
		}
		if linger == nil {
			break
		}
		select {
		case req := <-l.reqs:
			batch = append(batch, req)
		case <-linger:
			linger = nil
		}
	}
	l.lastBatch = len(batch)
	return batch
}

// writeBatch writes a batch to the segment, answers the callers whose
// records need no sync, and gives the batch to the syncer.
func (l *Log) writeBatch(batch []*request) {
	if len(batch) == 0 {
		return
	}
	err := l.writeFrames(batch)
	l.setHealth(&l.segErr, err)
	if err != nil {
		l.failures.Add(1)
		err = fmt.Errorf("audit: write: %w", err)
		for _, req := range batch {
			req.done <- err
		}
		return
	}
	l.records.Add(uint64(len(batch)))
	l.batches.Add(1)
	// Counted before the answers, so that a caller's next read waits for
	// its record.
	l.acked.Add(uint64(len(batch)))
	var wait []*request
	for _, req := range batch {
		if req.sync {
			wait = append(wait, req)
		} else {
			req.done <- nil
		}
	}
	now := time.Now()
	l.smu.Lock()
	first := len(l.unsynced) == 0
	if first {
		l.dirtySince = now
	}
	l.unsynced = append(l.unsynced, written{reqs: batch, epoch: l.seg.epoch, end: l.seg.end})
	if len(wait) > 0 {
		if len(l.waiting) == 0 {
			l.waitingSince = now
		}
		l.waiting = append(l.waiting, wait...)
	}
	l.smu.Unlock()
	if first || len(wait) > 0 {
		select {
		case l.kick <- struct{}{}:
		default: // the syncer has a kick to read already
		}
	}
	if l.seg.end >= l.cfg.segmentSize {
		l.rotate()
	}
}

func (l *Log) writeFrames(batch []*request) error {
	if l.cfg.FailWrites != nil {
		if err := l.cfg.FailWrites(); err != nil {
			return err
		}
	}
	bodies := make([][]byte, len(batch))
	for i, req := range batch {
		bodies[i] = req.body
	}
	at, err := l.seg.appendFrames(bodies)
	if err != nil {
		return err
	}
	for _, req := range batch {
		req.epoch, req.at = l.seg.epoch, at
		at += frameHeaderSize + int64(len(req.body))
	}
	return nil
}

// rotate moves the writer to a new segment; the syncer syncs and closes
// the old one. If it cannot be made, the writer goes on with the old one
// and tries again after the next batch.
func (l *Log) rotate() {
	seg, err := createSegment(l.cfg.Path, l.seg.epoch+1)
	if err != nil {
		l.cfg.Logger.Warn("audit: cannot start a new segment", "err", err)
		return
	}
	l.smu.Lock()
	l.segs = append(l.segs, seg)
	l.smu.Unlock()
	l.seg = seg
}

// segmentProbe checks that the segment can be written and synced again: it
// writes zeros after the last frame, where zeros are already meant to be.
func (l *Log) segmentProbe() {
	err := func() error {
		if l.cfg.FailWrites != nil {
			if err := l.cfg.FailWrites(); err != nil {
				return err
			}
		}
		return l.seg.clear(16 << 10)
	}()
	if err != nil {
		l.failures.Add(1)
	}
	l.setHealth(&l.segErr, err)
}

// runSyncer is the syncer goroutine. It ends once the writer has, and
// everything written is synced (or its last sync failed: the next Open
// takes those records in from the segments).
func (l *Log) runSyncer() {
	defer close(l.toIndex)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	retry := time.NewTicker(l.cfg.RetryInterval)
	defer retry.Stop()
	writerDone := l.writerDone
	failed, flush := false, false
	for {
		l.smu.Lock()
		n, waiting := len(l.unsynced), len(l.waiting)
		dirtySince, waitingSince := l.dirtySince, l.waitingSince
		l.smu.Unlock()

		wait := time.Duration(-1) // until the sync is due; negative: no sync due
		switch {
		case writerDone == nil && (n == 0 || failed):
			l.smu.Lock()
			segs := l.segs
			l.segs = nil
			l.smu.Unlock()
			for _, s := range segs {
				s.close()
			}
			l.handOverAll()
			return
		case n == 0:
			flush = false // nothing written that a reader could wait for
		case failed:
			// A sync failed: the retry tick tries again.
		case writerDone == nil || flush:
			wait = 0
		case waiting > 0:
			wait = 0
			// While changes come several at a time, linger for those on
			// their way: one sync for all of them costs less than several.
			// A lone caller never waits; under SyncAlways the writer has
			// lingered already.
			if l.cfg.Sync != SyncAlways && l.lastWaiting > 1 && l.cfg.GroupCommitDelay > 0 && waiting < l.cfg.MaxBatch {
				wait = max(time.Until(waitingSince.Add(l.cfg.GroupCommitDelay)), 0)
			}
		default:
			wait = max(time.Until(dirtySince.Add(l.cfg.SyncInterval)), 0)
		}
		if wait == 0 {
			failed = l.syncWritten() != nil
			flush = false
			continue
		}
		if l.handOver(); len(l.synced) > 0 && (wait < 0 || wait > handOverRetry) {
			wait = handOverRetry // the indexer is behind: offer them again soon
		}
		if wait > 0 {
			timer.Reset(wait)
		}
		select {
		case <-l.kick:
		case <-l.syncNow:
			flush = true
		case <-timer.C:
		case <-retry.C:
			failed = false
		case <-writerDone:
			writerDone = nil
		}
		timer.Stop()
	}
}

// syncWritten syncs the segments the writer wrote to, answers the callers
// waiting for it, and hands what it made durable to the indexer. On
// failure, the waiting callers get the error, the records stay unsynced,
// and the syncer tries again every RetryInterval (Healthy fails meanwhile,
// so requests are refused); a later sync that succeeds covers them.
func (l *Log) syncWritten() error {
	l.smu.Lock()
	batches, waiting, segs := l.unsynced, l.waiting, slices.Clone(l.segs)
	dirtySince := l.dirtySince
	l.unsynced, l.waiting = nil, nil
	l.smu.Unlock()
	if len(batches) == 0 {
		return nil
	}
	start := time.Now()
	err := func() error {
		if l.cfg.FailWrites != nil {
			if err := l.cfg.FailWrites(); err != nil {
				return err
			}
		}
		for _, s := range segs {
			if err := s.sync(); err != nil {
				return err
			}
		}
		return nil
	}()
	l.setHealth(&l.syncErr, err)
	if err != nil {
		l.failures.Add(1)
		l.smu.Lock()
		l.unsynced = append(batches, l.unsynced...)
		l.dirtySince = dirtySince
		l.smu.Unlock()
		err = fmt.Errorf("audit: sync: %w", err)
		for _, req := range waiting {
			req.done <- err
		}
		return err
	}
	l.countSync(time.Since(start))
	l.lastWaiting = len(waiting)
	// The segments before the last one synced are complete: the writer
	// had moved on from them.
	done := segs[:len(segs)-1]
	l.smu.Lock()
	l.segs = l.segs[len(done):]
	l.smu.Unlock()
	for _, s := range done {
		if err := s.close(); err != nil {
			l.cfg.Logger.Warn("audit: closing a segment", "err", err)
		}
	}
	for _, req := range waiting {
		req.done <- nil
	}
	// One batch per segment for the indexer: a batch of the writer may
	// hold a single record, and the indexer's multi-row statements and
	// last-use upserts cost per batch.
	for i := 0; i < len(batches); {
		j := i + 1
		for j < len(batches) && batches[j].epoch == batches[i].epoch {
			j++
		}
		w := batches[j-1]
		if j-i > 1 {
			w.reqs = nil
			for _, b := range batches[i:j] {
				w.reqs = append(w.reqs, b.reqs...)
			}
		}
		l.synced = append(l.synced, w)
		i = j
	}
	l.handOver()
	return nil
}

// handOverRetry is how soon the syncer offers the indexer again what it
// could not take.
const handOverRetry = 5 * time.Millisecond

// handOver gives the indexer the synced batches, in order, as far as it
// takes them now. The syncer never waits for it: syncs must keep to their
// interval however far behind the index is (Append bounds how far).
func (l *Log) handOver() {
	for len(l.synced) > 0 {
		select {
		case l.toIndex <- l.synced[0]:
			l.synced[0] = written{}
			l.synced = l.synced[1:]
		default:
			return
		}
	}
	l.synced = nil
}

// handOverAll gives the indexer every synced batch, at Close, waiting for
// it unless the database is failing (the next Open takes in what it does
// not get now: the records are synced in their segments).
func (l *Log) handOverAll() {
	for len(l.synced) > 0 && l.indexHealth() == nil {
		t := time.NewTimer(min(l.cfg.RetryInterval, 50*time.Millisecond))
		select {
		case l.toIndex <- l.synced[0]:
			l.synced[0] = written{}
			l.synced = l.synced[1:]
		case <-t.C:
		}
		t.Stop()
	}
	l.synced = nil
}
