package witness

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
)

// Handler serves tlog-witness's add-checkpoint (POST .../add-checkpoint)
// with w. Mount it under the submission prefix; the hub puts it behind
// mutual TLS.
func Handler(w *Witness) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			rw.Header().Set("Allow", "POST")
			http.Error(rw, "use POST", http.StatusMethodNotAllowed)
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(rw, r.Body, MaxRequest))
		if err != nil {
			http.Error(rw, "witness: request body: "+err.Error(), http.StatusRequestEntityTooLarge)
			return
		}
		sigs, err := w.Add(r.Context(), body)
		var e *Error
		switch {
		case errors.As(err, &e) && e.Status == http.StatusConflict:
			rw.Header().Set("Content-Type", "text/x.tlog.size")
			rw.WriteHeader(http.StatusConflict)
			fmt.Fprintf(rw, "%d\n", e.Size)
		case errors.As(err, &e):
			http.Error(rw, e.Error(), e.Status)
		case err != nil:
			http.Error(rw, "witness: "+err.Error(), http.StatusInternalServerError)
		default:
			rw.Header().Set("Content-Type", "text/plain; charset=utf-8")
			rw.Write(sigs)
		}
	})
}

// Submit sends an add-checkpoint request to the witness at url (the full
// .../add-checkpoint URL) and returns the cosignature lines. A refusal is
// an *Error with the status; a 409's size, the size the witness last
// co-signed, is in Error.Size, so that the caller can send a proof from it.
func Submit(ctx context.Context, c *http.Client, url string, req Request) ([]byte, error) {
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(req.Marshal()))
	if err != nil {
		return nil, err
	}
	hr.Header.Set("Content-Type", "text/plain; charset=utf-8")
	resp, err := c.Do(hr)
	if err != nil {
		return nil, fmt.Errorf("witness: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return nil, fmt.Errorf("witness: reply: %w", err)
	}
	sentinel := map[int]error{400: ErrBadRequest, 403: ErrForbidden, 404: ErrUnknownLog, 409: ErrConflict, 412: ErrPrecondition, 422: ErrInconsistent}[resp.StatusCode]
	switch {
	case resp.StatusCode == http.StatusOK:
		if !bytes.HasPrefix(body, []byte("— ")) || !bytes.HasSuffix(body, []byte("\n")) {
			return nil, fmt.Errorf("witness: a 200 reply that is not signature lines: %q", clip(body))
		}
		return body, nil
	case resp.StatusCode == http.StatusConflict:
		s := string(bytes.TrimSuffix(body, []byte("\n")))
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil || resp.Header.Get("Content-Type") != "text/x.tlog.size" {
			return nil, fmt.Errorf("witness: a 409 reply without a size: %q", clip(body))
		}
		return nil, &Error{Status: 409, Size: n, Err: ErrConflict}
	case sentinel != nil:
		return nil, &Error{Status: resp.StatusCode, Err: fmt.Errorf("%w (%s)", sentinel, clip(bytes.TrimSpace(body)))}
	}
	return nil, &Error{Status: resp.StatusCode, Err: fmt.Errorf("witness: HTTP %s: %s", resp.Status, clip(bytes.TrimSpace(body)))}
}

func clip(b []byte) string {
	if len(b) > 200 {
		return string(b[:200]) + "…"
	}
	return string(b)
}
