package attest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// UploadOption configures Upload.
type UploadOption func(*uploadConfig)

type uploadConfig struct {
	client   *http.Client
	attempts int
	delay    time.Duration
}

// WithHTTPClient sets the HTTP client of Upload.
func WithHTTPClient(c *http.Client) UploadOption { return func(u *uploadConfig) { u.client = c } }

// WithRetries sets how many times Upload tries (default 4) and the first backoff delay
// (default 1s, doubling).
func WithRetries(attempts int, firstDelay time.Duration) UploadOption {
	return func(u *uploadConfig) { u.attempts, u.delay = attempts, firstDelay }
}

// UploadError is a refusal of the GitHub attestations API.
type UploadError struct {
	Status  int
	Message string
}

func (e *UploadError) Error() string { return e.Message }

// Upload stores a bundle with the GitHub attestations API:
// POST {api}/repos/{owner}/{repo}/attestations with {"bundle": <bundle>} and the token
// (GITHUB_TOKEN). 5xx and 429 are retried with exponential backoff; 401/403 name the
// workflow permissions needed.
func Upload(ctx context.Context, api, repo, token string, bundleJSON []byte, opts ...UploadOption) error {
	u := uploadConfig{client: http.DefaultClient, attempts: 4, delay: time.Second}
	for _, o := range opts {
		o(&u)
	}
	if api == "" {
		api = "https://api.github.com"
	}
	if strings.Count(repo, "/") != 1 {
		return fmt.Errorf("repository %q is not owner/repo", repo)
	}
	if token == "" {
		return errors.New("attestation upload needs a token (GITHUB_TOKEN)")
	}
	if !json.Valid(bundleJSON) {
		return errors.New("attestation upload: bundle is not JSON")
	}
	body, err := json.Marshal(map[string]json.RawMessage{"bundle": bundleJSON})
	if err != nil {
		return err
	}
	url := strings.TrimSuffix(api, "/") + "/repos/" + repo + "/attestations"
	delay := u.delay
	var last error
	for attempt := 1; attempt <= u.attempts; attempt++ {
		if attempt > 1 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(delay):
			}
			delay *= 2
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Accept", "application/vnd.github+json")
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-GitHub-Api-Version", "2022-11-28")
		resp, err := u.client.Do(req)
		if err != nil {
			last = err
			continue
		}
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		resp.Body.Close()
		switch {
		case resp.StatusCode >= 200 && resp.StatusCode < 300:
			return nil
		case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
			return &UploadError{resp.StatusCode, fmt.Sprintf(
				"GitHub refused the attestation upload to %s (%d %s): the workflow needs `permissions: attestations: write` and `id-token: write`, and GITHUB_TOKEN must be passed",
				repo, resp.StatusCode, apiMessage(msg))}
		case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
			last = &UploadError{resp.StatusCode, fmt.Sprintf("attestation upload: %d %s", resp.StatusCode, apiMessage(msg))}
		default:
			return &UploadError{resp.StatusCode, fmt.Sprintf("attestation upload to %s: %d %s", repo, resp.StatusCode, apiMessage(msg))}
		}
	}
	return fmt.Errorf("attestation upload failed after %d attempts: %w", u.attempts, last)
}

func apiMessage(body []byte) string {
	var m struct {
		Message string `json:"message"`
	}
	if json.Unmarshal(body, &m) == nil && m.Message != "" {
		return m.Message
	}
	return strings.TrimSpace(string(body))
}
