package adbudget

import (
	"testing"

	"connectrpc.com/connect"
)

func TestClassify(t *testing.T) {
	tests := []struct {
		code connect.Code
		want outcome
	}{
		{connect.CodeUnavailable, outcomeRetry},
		{connect.CodeDeadlineExceeded, outcomeRetry},
		{connect.CodeResourceExhausted, outcomeRetry},
		{connect.CodeAborted, outcomeRetry},
		{connect.CodeInternal, outcomeRetry},
		{connect.CodeUnknown, outcomeRetry},
		{connect.CodeUnauthenticated, outcomeRetry},
		{connect.CodeInvalidArgument, outcomeReject},
		{connect.CodeNotFound, outcomeReject},
		{connect.CodePermissionDenied, outcomeReject},
		{connect.CodeAlreadyExists, outcomeReject},
		{connect.CodeFailedPrecondition, outcomeReject},
		{connect.CodeOutOfRange, outcomeReject},
		{connect.CodeUnimplemented, outcomeReject},
		{connect.CodeDataLoss, outcomeReject},
	}
	for _, tt := range tests {
		t.Run(tt.code.String(), func(t *testing.T) {
			if got := classify(tt.code); got != tt.want {
				t.Errorf("classify(%s) = %d, want %d", tt.code, got, tt.want)
			}
		})
	}
}
