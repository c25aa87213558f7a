package admin

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/podfwd/podfwd/trace"
)

// Client talks to a daemon's admin socket.
type Client struct {
	socket string
	http   *http.Client
}

// NewClient returns a client of the admin socket at path.
func NewClient(path string) *Client {
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		},
		DisableCompression: true,
	}
	return &Client{socket: path, http: &http.Client{Transport: tr}}
}

// Errors a client returns for the server's answers, wrapped with its text.
var (
	ErrRefused    = errors.New("admin: refused")            // 403: not root
	ErrBusy       = errors.New("admin: busy")               // 409: another trace is attached
	ErrBadRequest = errors.New("admin: bad request")        // 400: filter or packet spec wrong
	ErrServer     = errors.New("admin: server unavailable") // anything else
)

// TraceOptions choose what a trace session streams.
type TraceOptions struct {
	Filter   string
	WithWire bool // include each packet's bytes (for pcap)
	SnapLen  int  // 0: the server's default
}

// Trace attaches a trace session and calls fn for each record until ctx
// ends (returns nil), fn returns an error (returned, unless it is
// io.EOF, which ends the session cleanly) or the server ends the stream.
// attached, when not nil, is called once the session is installed.
func (c *Client) Trace(ctx context.Context, o TraceOptions, attached func(), fn func(*trace.Record) error) error {
	q := url.Values{"filter": {o.Filter}}
	if o.WithWire {
		q.Set("wire", "1")
	}
	if o.SnapLen > 0 {
		q.Set("snaplen", fmt.Sprint(o.SnapLen))
	}
	resp, err := c.get(ctx, "/trace?"+q.Encode())
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if attached != nil {
		attached()
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		var rec trace.Record
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			return fmt.Errorf("admin: bad trace line: %w", err)
		}
		if err := fn(&rec); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
	}
	if ctx.Err() != nil {
		return nil
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("admin: trace stream: %w", err)
	}
	return nil
}

// Simulate asks the daemon what it would do with the packet spec describes
// (see trace.ParseSpec).
func (c *Client) Simulate(ctx context.Context, spec string) (*trace.Record, error) {
	var rec trace.Record
	return &rec, c.getJSON(ctx, "/simulate?"+url.Values{"packet": {spec}}.Encode(), &rec)
}

// Status returns the daemon's status.
func (c *Client) Status(ctx context.Context) (*Status, error) {
	var st Status
	return &st, c.getJSON(ctx, "/status", &st)
}

func (c *Client) getJSON(ctx context.Context, path string, v any) error {
	resp, err := c.get(ctx, path)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		return fmt.Errorf("admin: decoding %s: %w", path, err)
	}
	return nil
}

// get issues a request and turns non-200 answers into wrapped errors.
func (c *Client) get(ctx context.Context, path string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://podfwd"+path, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("admin: %s: %w", c.socket, err)
	}
	if resp.StatusCode == http.StatusOK {
		return resp, nil
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	resp.Body.Close()
	msg := strings.TrimSpace(string(body))
	switch resp.StatusCode {
	case http.StatusForbidden:
		return nil, fmt.Errorf("%w: %s", ErrRefused, msg)
	case http.StatusConflict:
		return nil, fmt.Errorf("%w: %s", ErrBusy, msg)
	case http.StatusBadRequest:
		return nil, fmt.Errorf("%w: %s", ErrBadRequest, msg)
	}
	return nil, fmt.Errorf("%w: %s: %s", ErrServer, resp.Status, msg)
}
