package bulk

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/admit-dev/admit/directory"
)

// DefaultLease is how long a runner holds a job between batches: a runner
// that dies leaves the job to the next claimer this long after its last
// batch. A batch takes well under a second.
const DefaultLease = 15 * time.Second

// Runner works import jobs: admit serve's workers run it in a loop; the
// CLI runs the job it made.
type Runner struct {
	Service *directory.Service
	Lease   time.Duration // default DefaultLease
	Poll    time.Duration // how often an idle worker looks for jobs; default 2 s
	Logger  *slog.Logger
	// Lanes is how many batches of one job run at once, each in its own
	// transaction on its own chunk of rows; default the directory's
	// ImportLanes (more than one only where the database runs writers side
	// by side).
	Lanes int
	// Progress, when set, is called after each batch, one call at a time,
	// with counts that never go back.
	Progress func(directory.Import)
}

func (r *Runner) lease() time.Duration {
	if r.Lease <= 0 {
		return DefaultLease
	}
	return r.Lease
}

// Run claims and works jobs until ctx ends.
func (r *Runner) Run(ctx context.Context) {
	poll := r.Poll
	if poll <= 0 {
		poll = 2 * time.Second
	}
	log := r.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	for ctx.Err() == nil {
		im, err := r.Service.ClaimImport(ctx, "", r.lease())
		if err == nil {
			if _, err := r.Work(ctx, im); err != nil && ctx.Err() == nil {
				log.ErrorContext(ctx, "import", "import_id", im.ID, "account_id", im.AccountID, "err", err)
			}
			continue
		}
		if directory.KindOf(err) != directory.NotFound && ctx.Err() == nil {
			log.ErrorContext(ctx, "claim import", "err", err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(poll):
		}
	}
}

// Work runs batches of a claimed job, in lanes, until it is no longer
// open (finished or cancelled), and returns it as it ends.
func (r *Runner) Work(ctx context.Context, im directory.Import) (directory.Import, error) {
	lanes := r.Lanes
	if lanes <= 0 {
		lanes = r.Service.ImportLanes()
	}
	var (
		mu     sync.Mutex
		latest = im
		wg     sync.WaitGroup
		errs   = make([]error, lanes)
	)
	// seen keeps the furthest the job has been seen to go: lanes return
	// their batches out of order.
	seen := func(next directory.Import) {
		mu.Lock()
		defer mu.Unlock()
		// A lane's open job that another lane has seen further, or
		// closed, is old news.
		if next.Status.Open() && (!latest.Status.Open() || next.Counts.Done() < latest.Counts.Done()) {
			return
		}
		latest = next
		if r.Progress != nil {
			r.Progress(next)
		}
	}
	for {
		for i := range lanes {
			wg.Go(func() { errs[i] = r.lane(ctx, im, seen) })
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil || !latest.Status.Open() {
			return latest, err
		}
		// Every lane found the rows left held by a runner outside this
		// one (one whose claim lapsed while it still ran): wait for it to
		// finish them or die, then go on, so that the job is worked to its
		// end.
		select {
		case <-ctx.Done():
			return latest, ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

// lane runs batches of the job until it ends or its rows left are all
// held by other lanes. A batch that collides with a concurrent write of
// the same person is tried again: it is classified afresh, so the person
// is then joined, not created twice.
func (r *Runner) lane(ctx context.Context, im directory.Import, seen func(directory.Import)) error {
	conflicts := 0
	for {
		next, err := r.Service.RunImportBatch(ctx, im, r.lease())
		switch {
		case errors.Is(err, directory.ErrImportHeld):
			return nil
		case directory.KindOf(err) == directory.Conflict && conflicts < 3:
			conflicts++
			continue
		case err != nil:
			return err
		}
		conflicts = 0
		seen(next)
		if !next.Status.Open() {
			return nil
		}
	}
}

// RunNow claims the job id and works it to its end, waiting for the
// claim of a runner that died (up to its lease) if need be.
func (r *Runner) RunNow(ctx context.Context, id string) (directory.Import, error) {
	for {
		im, err := r.Service.ClaimImport(ctx, id, r.lease())
		if err == nil {
			return r.Work(ctx, im)
		}
		if directory.KindOf(err) != directory.NotFound {
			return directory.Import{}, err
		}
		select {
		case <-ctx.Done():
			return directory.Import{}, ctx.Err()
		case <-time.After(time.Second):
		}
		// The job may have ended meanwhile, or never have been open.
		if im, err := r.Service.ImportJobByID(ctx, id); err == nil && !im.Status.Open() {
			return im, nil
		} else if err != nil && !errors.Is(err, ctx.Err()) {
			return directory.Import{}, err
		}
	}
}

// ImportRows turns the spreadsheet's rows into the directory's.
func ImportRows(rows []Row) []directory.ImportRow {
	out := make([]directory.ImportRow, len(rows))
	for i, r := range rows {
		out[i] = directory.ImportRow{Line: r.Line, Email: r.Email, FirstName: r.FirstName, LastName: r.LastName, Role: directory.Role(r.Role)}
	}
	return out
}
