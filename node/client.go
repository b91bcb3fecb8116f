package node

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
)

// ErrAPIUnreachable is returned when no node answers at the API address.
var ErrAPIUnreachable = errors.New("cannot reach the node API")

// Client talks to a node's HTTP API. The CLI is its main user.
type Client struct {
	// Addr is the API's HOST:PORT.
	Addr string
	// HTTP is the client used; http.DefaultClient when nil.
	HTTP *http.Client
}

func (c *Client) httpClient() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return http.DefaultClient
}

func (c *Client) do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("encode request: %w", err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://"+c.Addr+path, rd)
	if err != nil {
		return fmt.Errorf("api request: %w", err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.httpClient().Do(req)
	if err != nil {
		return fmt.Errorf("%w at %s (is `chorus node` running? set --api or CHORUS_API): %w", ErrAPIUnreachable, c.Addr, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("read api answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		var ae APIError
		if json.Unmarshal(b, &ae) == nil && ae.Error != "" {
			return errors.New(ae.Error)
		}
		return fmt.Errorf("api answered %s", resp.Status)
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("decode api answer: %w", err)
	}
	return nil
}

// ID returns the node's peer ID and addresses.
func (c *Client) ID(ctx context.Context) (*IDInfo, error) {
	var out IDInfo
	return &out, c.do(ctx, http.MethodGet, "/v1/id", nil, &out)
}

// Status returns the node's ring view and holdings.
func (c *Client) Status(ctx context.Context) (*StatusInfo, error) {
	var out StatusInfo
	return &out, c.do(ctx, http.MethodGet, "/v1/status", nil, &out)
}

// Names lists the datasets the node can see.
func (c *Client) Names(ctx context.Context) (*NamesInfo, error) {
	var out NamesInfo
	return &out, c.do(ctx, http.MethodGet, "/v1/names", nil, &out)
}

// Versions lists the versions of name.
func (c *Client) Versions(ctx context.Context, name string) (*VersionsInfo, error) {
	var out VersionsInfo
	return &out, c.do(ctx, http.MethodGet, "/v1/versions?name="+url.QueryEscape(name), nil, &out)
}

// Publish stores the tree at req.Path as the next version of req.Name.
func (c *Client) Publish(ctx context.Context, req PublishRequest) (*PublishResult, error) {
	var out PublishResult
	return &out, c.do(ctx, http.MethodPost, "/v1/publish", req, &out)
}

// Fetch writes a version of req.Name under req.Dest.
func (c *Client) Fetch(ctx context.Context, req FetchRequest) (*FetchResult, error) {
	var out FetchResult
	return &out, c.do(ctx, http.MethodPost, "/v1/fetch", req, &out)
}
