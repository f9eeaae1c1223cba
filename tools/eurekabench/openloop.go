package main

import (
	"bytes"
	"io"
	"sync"
	"time"
)

// The scale command drives a fleet open loop: request i of a kind is due
// at a fixed time whatever happened to the ones before it, as real clients'
// timers fire whether or not the server kept up. Latency runs from that due
// time, so a server that stalls is charged for the wait of every request
// queued behind the stall (no coordinated omission), and a request the
// client could not even send because all its connections were busy is
// counted as missed rather than silently left out.

// openLoop is one kind of request sent open loop.
type openLoop struct {
	// gap is the time between two consecutive due times (1/rate).
	gap time.Duration
	// workers is the number of concurrent senders (connections); queue is
	// how many due requests may wait for a free one before the next is
	// missed.
	workers, queue int
	// do sends request i on worker w (0 <= w < workers) and returns the
	// bytes read and "" or the kind of failure.
	do func(w int, i int64) (n int64, errKind string)
}

// openStats is what an open loop measured over its recorded window.
type openStats struct {
	// Scheduled requests were due in the window; Sent of them reached a
	// worker, Missed found every worker and the queue busy and were dropped.
	Scheduled, Sent, Missed int64
	// OK of the sent were answered as expected; Errors by kind.
	OK     int64
	Errors errCounter
	Bytes  int64
	// lat runs from the due time to the end of the answer; svc from the
	// moment a worker sent the request.
	lat, svc histogram
}

// openJob is one due request.
type openJob struct {
	i      int64
	due    time.Time
	record bool
}

// run sends requests first, first+1, ... due at start, start+gap, ... until
// end (exclusive) and returns the statistics of those due at or after from
// (earlier ones warm up and are not recorded) and the index after the last
// one due. It returns once every sent request has been answered.
func (o *openLoop) run(start, from, end time.Time, first int64) (openStats, int64) {
	jobs := make(chan openJob, max(o.queue, 0))
	per := make([]openStats, o.workers)
	var wg sync.WaitGroup
	for w := range o.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st := &per[w]
			st.Errors = errCounter{}
			for j := range jobs {
				t0 := time.Now()
				n, kind := o.do(w, j.i)
				t1 := time.Now()
				if !j.record {
					continue
				}
				st.Sent++
				st.Bytes += n
				if kind != "" {
					st.Errors.add(kind)
					continue
				}
				st.OK++
				st.lat.record(t1.Sub(j.due))
				st.svc.record(t1.Sub(t0))
			}
		}()
	}
	var missed, scheduled int64
	i := first
	for {
		due := start.Add(time.Duration(i-first) * o.gap)
		if !due.Before(end) {
			break
		}
		if wait := time.Until(due); wait > 0 {
			time.Sleep(wait)
		}
		j := openJob{i: i, due: due, record: !due.Before(from)}
		if j.record {
			scheduled++
		}
		select {
		case jobs <- j:
		default:
			if j.record {
				missed++
			}
		}
		i++
	}
	close(jobs)
	wg.Wait()
	res := openStats{Scheduled: scheduled, Missed: missed, Errors: errCounter{}}
	for k := range per {
		st := &per[k]
		res.Sent += st.Sent
		res.OK += st.OK
		res.Bytes += st.Bytes
		res.lat.merge(&st.lat)
		res.svc.merge(&st.svc)
		for e, v := range st.Errors {
			res.Errors[e] += v
		}
	}
	return res, i
}

// quantileOpen is the q-quantile of the latencies from the due time,
// counting every scheduled request that was not answered as expected
// (missed or failed) as slower than any answered one. ok is false when the
// quantile falls among those: the server did not serve that share.
func (s *openStats) quantileOpen(q float64) (d time.Duration, ok bool) {
	total := s.Scheduled
	if total <= 0 {
		return 0, true
	}
	rank := int64(q*float64(total) + 0.5)
	if rank < 1 {
		rank = 1
	}
	if rank > int64(s.lat.n) {
		return 0, false
	}
	// The rank-th of all is the rank-th of the answered ones.
	return s.lat.quantile(float64(rank) / float64(s.lat.n)), true
}

// containsStream reports whether needle occurs in r, reading only as far
// as the first occurrence; a match across two reads is found too.
func containsStream(r io.Reader, needle []byte) (bool, error) { return containsBefore(r, needle, nil) }

// containsBefore reports whether needle occurs in r before the first
// occurrence of stop, reading only as far as either (a nil stop: the end).
func containsBefore(r io.Reader, needle, stop []byte) (bool, error) {
	if len(needle) == 0 {
		return true, nil
	}
	buf := make([]byte, 64<<10)
	keep := 0 // bytes carried over from the previous read
	for {
		n, err := r.Read(buf[keep:])
		if n > 0 {
			window := buf[:keep+n]
			i := bytes.Index(window, needle)
			j := -1
			if len(stop) > 0 {
				j = bytes.Index(window, stop)
			}
			if i >= 0 && (j < 0 || i < j) {
				return true, nil
			}
			if j >= 0 {
				return false, nil
			}
			keep = min(max(len(needle), len(stop))-1, len(window))
			copy(buf, window[len(window)-keep:])
		}
		if err == io.EOF {
			return false, nil
		}
		if err != nil {
			return false, err
		}
	}
}
