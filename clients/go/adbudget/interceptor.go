package adbudget

import (
	"context"
	"net/http"
	"time"

	"connectrpc.com/connect"
)

// NewInterceptor returns the call policy of the SDK as a connect interceptor, for clients of
// your own (GetBudgetStatus, ListCampaigns, ...) that should behave as the SDK's do:
//
//   - every call carries `authorization: Bearer <token>` from tokens (wrapped in a [TokenCache]);
//     an UNAUTHENTICATED answer drops the token so the next call carries a fresh one;
//   - a unary call attempt has a deadline (default 5 s, [WithCallTimeout]);
//   - a unary call the proto marks idempotent (NO_SIDE_EFFECTS or IDEMPOTENT) is retried on
//     UNAVAILABLE with full-jitter backoff from 100 ms doubling to 5 s, 5 attempts in all
//     ([WithCallAttempts]); other calls, and other codes, are never retried: a retry of a call
//     with side effects could apply it twice.
//
// Streams get the token; their length is the caller's to decide.
func NewInterceptor(tokens TokenSource, opts ...Option) connect.Interceptor {
	cfg := defaultCommon()
	for _, o := range opts {
		o.applyCommon(&cfg)
	}
	return newCallPolicy(NewTokenCache(tokens), cfg)
}

// callPolicy implements connect.Interceptor.
type callPolicy struct {
	tokens   *TokenCache
	timeout  time.Duration
	attempts int
	backoff  backoff
	randN    func(int64) int64
}

func newCallPolicy(tokens *TokenCache, cfg commonConfig) *callPolicy {
	return &callPolicy{
		tokens:   tokens,
		timeout:  cfg.callTimeout,
		attempts: cfg.callAttempts,
		backoff:  callBackoff,
		randN:    jitter,
	}
}

// retryable says whether a failed attempt of a call is tried again: only UNAVAILABLE (the
// request was not processed, or processing it twice is harmless) of a call the proto marks
// idempotent.
func retryable(level connect.IdempotencyLevel, code connect.Code) bool {
	return code == connect.CodeUnavailable &&
		(level == connect.IdempotencyNoSideEffects || level == connect.IdempotencyIdempotent)
}

func (p *callPolicy) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		level := req.Spec().IdempotencyLevel
		for attempt := 1; ; attempt++ {
			token, err := p.tokens.Token(ctx)
			if err != nil {
				return nil, connect.NewError(connect.CodeUnauthenticated, err)
			}
			setBearer(req.Header(), token)
			res, err := p.attempt(ctx, next, req)
			if err == nil {
				return res, nil
			}
			code := connect.CodeOf(err)
			if code == connect.CodeUnauthenticated {
				p.tokens.Invalidate(token)
			}
			if attempt >= p.attempts || !retryable(level, code) || ctx.Err() != nil {
				return nil, err
			}
			if sleepCtx(ctx, p.backoff.delay(attempt-1, p.randN)) != nil {
				return nil, err
			}
		}
	}
}

// attempt runs one try with its own deadline: each retry gets the full timeout, and the
// caller's context (a shorter deadline, a cancel) bounds them all.
func (p *callPolicy) attempt(ctx context.Context, next connect.UnaryFunc, req connect.AnyRequest) (connect.AnyResponse, error) {
	if p.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, p.timeout)
		defer cancel() // a unary response is read whole before next returns
	}
	return next(ctx, req)
}

func (p *callPolicy) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return func(ctx context.Context, spec connect.Spec) connect.StreamingClientConn {
		token, err := p.tokens.Token(ctx)
		conn := next(ctx, spec)
		if err != nil {
			return &failedConn{StreamingClientConn: conn, err: connect.NewError(connect.CodeUnauthenticated, err)}
		}
		setBearer(conn.RequestHeader(), token)
		return &authedConn{StreamingClientConn: conn, tokens: p.tokens, token: token}
	}
}

func (p *callPolicy) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return next // client-side only
}

func setBearer(h http.Header, token string) { h.Set("Authorization", "Bearer "+token) }

// authedConn drops its token when the stream ends with UNAUTHENTICATED: the services end a
// stream when the token it was opened with expires, and the reconnect must carry a new one.
type authedConn struct {
	connect.StreamingClientConn
	tokens *TokenCache
	token  string
}

func (c *authedConn) Receive(msg any) error {
	err := c.StreamingClientConn.Receive(msg)
	if err != nil && connect.CodeOf(err) == connect.CodeUnauthenticated {
		c.tokens.Invalidate(c.token)
	}
	return err
}

// failedConn is a stream that could not get a token: it fails on first use with that error.
type failedConn struct {
	connect.StreamingClientConn
	err error
}

func (c *failedConn) Send(any) error    { return c.err }
func (c *failedConn) Receive(any) error { return c.err }
