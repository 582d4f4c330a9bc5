package publish

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestSizeLimitOf: what counts as a refusal for size, and the limit named.
func TestSizeLimitOf(t *testing.T) {
	for _, tc := range []struct {
		status int
		body   string
		ok     bool
		limit  int64
	}{
		{416, `{"errors":[{"code":"REQUESTED_RANGE_NOT_SATISFIABLE","message":"the request body is too large and exceeds the maximum permissible limit of 4.00MiB"}]}`, true, 4 * mib},
		{413, "<html><head><title>413 Request Entity Too Large</title></head><body><center>nginx</center></body></html>", true, 0},
		{413, `{"errors":[{"code":"SIZE_INVALID","message":"body of 12 MB exceeds the limit of 10 MB"}]}`, true, 10e6},
		{416, `{"errors":[{"code":"BLOB_UPLOAD_INVALID","message":"content range \"5-9\" does not start at 0"}]}`, false, 0},
		{400, `{"errors":[{"code":"SIZE_INVALID","message":"too large"}]}`, false, 0},
	} {
		err := errorAnswer(tc.status, tc.body)
		limit, ok := sizeLimitOf(err)
		if ok != tc.ok || limit != tc.limit {
			t.Errorf("sizeLimitOf(%d %s) = %d, %v; want %d, %v", tc.status, tc.body, limit, ok, tc.limit, tc.ok)
		}
	}
}

// errorAnswer is a registry answer with this status and body, as
// checkStatus makes it.
func errorAnswer(status int, body string) error {
	resp := &http.Response{StatusCode: status, Header: http.Header{}, Body: io.NopCloser(strings.NewReader(body)),
		Request: &http.Request{Method: http.MethodPatch, URL: &url.URL{Scheme: "https", Host: "registry.example", Path: "/v2/web/site/blobs/uploads/1"}}}
	return checkStatus(resp, http.StatusAccepted)
}
