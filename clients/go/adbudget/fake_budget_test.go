package adbudget

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"

	"connectrpc.com/connect"
	"google.golang.org/genproto/googleapis/rpc/status"

	budgetv1 "github.com/adbudget/adbudget/clients/go/gen/adbudget/budget/v1"
	"github.com/adbudget/adbudget/clients/go/gen/adbudget/budget/v1/budgetv1connect"
)

// fakeBudget is a BudgetService that records spend once per event id, as the real one does,
// and fails calls or events as a test scripts.
type fakeBudget struct {
	budgetv1connect.UnimplementedBudgetServiceHandler

	mu         sync.Mutex
	stored     map[string]int64 // event id -> amount
	sends      map[string]int   // event id -> times received
	batchSizes []int
	failCalls  []connect.Code                         // codes of the next whole-call answers
	eventCode  func(id string, send int) connect.Code // per-event answer (0: record)
	batchCode  func(ids []string) connect.Code        // whole-call answer by the batch's ids (0: go on)
	gate       chan struct{}                          // when set, each call waits for a token from it
	active     int                                    // calls being answered
	maxActive  int                                    // the most calls answered at once
}

func newFakeBudget() *fakeBudget {
	return &fakeBudget{stored: map[string]int64{}, sends: map[string]int{}}
}

func (f *fakeBudget) serve(t *testing.T) string {
	path, h := budgetv1connect.NewBudgetServiceHandler(f)
	mux := http.NewServeMux()
	mux.Handle(path, h)
	return serveH2C(t, mux)
}

func (f *fakeBudget) RecordSpendBatch(ctx context.Context, req *connect.Request[budgetv1.RecordSpendBatchRequest]) (*connect.Response[budgetv1.RecordSpendBatchResponse], error) {
	f.mu.Lock()
	f.active++
	f.maxActive = max(f.maxActive, f.active)
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		f.active--
		f.mu.Unlock()
	}()
	if f.gate != nil {
		select {
		case <-f.gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.batchSizes = append(f.batchSizes, len(req.Msg.GetEvents()))
	if len(f.failCalls) > 0 {
		code := f.failCalls[0]
		f.failCalls = f.failCalls[1:]
		return nil, connect.NewError(code, nil)
	}
	if f.batchCode != nil {
		ids := make([]string, len(req.Msg.GetEvents()))
		for i, e := range req.Msg.GetEvents() {
			ids[i] = e.GetEventId()
		}
		if code := f.batchCode(ids); code != 0 {
			return nil, connect.NewError(code, fmt.Errorf("refused: %d events", len(ids)))
		}
	}
	res := &budgetv1.RecordSpendBatchResponse{}
	for _, e := range req.Msg.GetEvents() {
		id := e.GetEventId()
		f.sends[id]++
		if f.eventCode != nil {
			if code := f.eventCode(id, f.sends[id]); code != 0 {
				res.Results = append(res.Results, &budgetv1.RecordSpendResult{Error: &status.Status{Code: int32(code), Message: code.String()}})
				continue
			}
		}
		_, dup := f.stored[id]
		f.stored[id] = e.GetAmountMicros()
		res.Results = append(res.Results, &budgetv1.RecordSpendResult{Response: &budgetv1.RecordSpendResponse{Duplicate: dup}})
	}
	return connect.NewResponse(res), nil
}

func (f *fakeBudget) storedCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.stored)
}
