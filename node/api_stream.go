package node

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
)

// ProgressInfo is one progress line of a streamed publish or fetch.
type ProgressInfo struct {
	Done  int64 `json:"done"`
	Total int64 `json:"total"`
}

// streamLine is one line of a streamed answer (application/x-ndjson):
// progress lines, then exactly one result or error line.
type streamLine struct {
	Progress *ProgressInfo   `json:"progress,omitempty"`
	Result   json.RawMessage `json:"result,omitempty"`
	Error    string          `json:"error,omitempty"`
}

// wantsStream reports whether the caller asked for progress lines.
func wantsStream(r *http.Request) bool { return r.URL.Query().Get("progress") == "1" }

// serveStreamed runs work with progress reported as NDJSON lines, then
// writes its result or error as the last line.
func serveStreamed(w http.ResponseWriter, r *http.Request, work func(ctx context.Context) (any, error)) {
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.WriteHeader(http.StatusOK)
	flusher, _ := w.(http.Flusher)
	var mu sync.Mutex
	enc := json.NewEncoder(w)
	emit := func(l streamLine) {
		mu.Lock()
		defer mu.Unlock()
		_ = enc.Encode(l)
		if flusher != nil {
			flusher.Flush()
		}
	}
	ctx := WithProgress(r.Context(), func(done, total int64) {
		emit(streamLine{Progress: &ProgressInfo{Done: done, Total: total}})
	})
	res, err := work(ctx)
	if err != nil {
		emit(streamLine{Error: err.Error()})
		return
	}
	b, err := json.Marshal(res)
	if err != nil {
		emit(streamLine{Error: err.Error()})
		return
	}
	emit(streamLine{Result: b})
}

// stream posts body to path with progress on, reports progress lines to fn
// and decodes the final result into out.
func (c *Client) stream(ctx context.Context, path string, body any, fn ProgressFunc, out any) error {
	b, err := json.Marshal(body)
	if err != nil {
		return fmt.Errorf("encode request: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+c.Addr+path+"?progress=1", bytes.NewReader(b))
	if err != nil {
		return fmt.Errorf("api request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.httpClient().Do(req)
	if err != nil {
		return fmt.Errorf("%w at %s (is `chorus node` running? set --api or CHORUS_API): %w", ErrAPIUnreachable, c.Addr, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var ae APIError
		if json.NewDecoder(resp.Body).Decode(&ae) == nil && ae.Error != "" {
			return errors.New(ae.Error)
		}
		return fmt.Errorf("api answered %s", resp.Status)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 64<<20)
	for sc.Scan() {
		var l streamLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			return fmt.Errorf("decode api answer: %w", err)
		}
		switch {
		case l.Progress != nil:
			if fn != nil {
				fn(l.Progress.Done, l.Progress.Total)
			}
		case l.Error != "":
			return errors.New(l.Error)
		case l.Result != nil:
			if err := json.Unmarshal(l.Result, out); err != nil {
				return fmt.Errorf("decode api answer: %w", err)
			}
			return nil
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read api answer: %w", err)
	}
	return errors.New("the node closed the answer before the result (did it stop?)")
}

// PublishProgress is Publish with progress reported to fn.
func (c *Client) PublishProgress(ctx context.Context, req PublishRequest, fn ProgressFunc) (*PublishResult, error) {
	var out PublishResult
	return &out, c.stream(ctx, "/v1/publish", req, fn, &out)
}

// FetchProgress is Fetch with progress reported to fn.
func (c *Client) FetchProgress(ctx context.Context, req FetchRequest, fn ProgressFunc) (*FetchResult, error) {
	var out FetchResult
	return &out, c.stream(ctx, "/v1/fetch", req, fn, &out)
}
