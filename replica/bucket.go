package replica

import "github.com/chorus-data/chorus/overlay"

// TokenBucket limits repair traffic to a rate in bytes per second, driven
// by the time values the caller passes in. A transfer may start whenever
// the bucket is not in debt; it then takes its whole size, possibly going
// into debt, so a block larger than the burst still gets through and the
// long-run rate stays at Rate. A zero Rate means no limit.
type TokenBucket struct {
	// Rate is the refill rate in bytes per second; 0 disables the limit.
	Rate int64
	// Burst is the most tokens the bucket holds.
	Burst int64

	tokens int64 // may be negative (debt)
	last   overlay.Time
	primed bool
}

// NewTokenBucket returns a full bucket.
func NewTokenBucket(rate, burst int64) *TokenBucket {
	if burst <= 0 {
		burst = rate
	}
	return &TokenBucket{Rate: rate, Burst: burst, tokens: burst}
}

// refill adds the tokens earned since the last call.
func (b *TokenBucket) refill(now overlay.Time) {
	if !b.primed {
		b.primed, b.last = true, now
		return
	}
	if now <= b.last {
		return
	}
	earned := int64(now-b.last) * b.Rate / 1000
	if earned == 0 {
		return // keep the remainder for later: do not advance last
	}
	b.tokens = min(b.Burst, b.tokens+earned)
	b.last = now
}

// Take reports whether a transfer of size bytes may start at now and, if
// so, charges the bucket for it.
func (b *TokenBucket) Take(now overlay.Time, size int64) bool {
	if b.Rate <= 0 {
		return true
	}
	b.refill(now)
	if b.tokens <= 0 {
		return false
	}
	b.tokens -= size
	return true
}

// Ready returns when the bucket will next allow a transfer: now if it
// does already.
func (b *TokenBucket) Ready(now overlay.Time) overlay.Time {
	if b.Rate <= 0 {
		return now
	}
	b.refill(now)
	if b.tokens > 0 {
		return now
	}
	need := 1 - b.tokens
	wait := (need*1000 + b.Rate - 1) / b.Rate
	return b.last + overlay.Time(wait)
}

// readyAt is Ready without refilling: the time, on the bucket's own
// clock, from which a transfer may start (0 when it may at once).
func (b *TokenBucket) readyAt() overlay.Time {
	if b.Rate <= 0 || b.tokens > 0 {
		return 0
	}
	need := 1 - b.tokens
	return b.last + overlay.Time((need*1000+b.Rate-1)/b.Rate)
}

// Tokens returns the current balance (negative when in debt).
func (b *TokenBucket) Tokens() int64 { return b.tokens }
