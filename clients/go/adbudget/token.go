package adbudget

import "context"

// TokenSource gives the bearer token (a JWT) every call carries. The SDK asks it again when 80%
// of the token's life has passed, or at once after the server answered UNAUTHENTICATED (see
// [TokenCache]); it may call the network (a token endpoint, a secret store).
type TokenSource interface {
	Token(ctx context.Context) (string, error)
}

// StaticToken is a fixed token, such as one read from the environment. When it expires the
// calls fail with UNAUTHENTICATED: use a [TokenFunc] for tokens that must be renewed.
type StaticToken string

// Token returns the token itself.
func (s StaticToken) Token(context.Context) (string, error) { return string(s), nil }

// TokenFunc adapts a function to a [TokenSource].
type TokenFunc func(ctx context.Context) (string, error)

// Token calls f.
func (f TokenFunc) Token(ctx context.Context) (string, error) { return f(ctx) }
