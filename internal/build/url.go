package build

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"
)

// maxURLSize bounds what ADD downloads.
const maxURLSize = 2 << 30

// addURL downloads an ADD source and checks it against --checksum, which
// the Dockerfile must give (a download cannot otherwise be reproduced).
func (b *builder) addURL(ctx context.Context, src, checksum, dest string, destIsDir bool) (entry, error) {
	want := strings.TrimPrefix(checksum, "sha256:")
	if len(want) != 64 {
		return entry{}, fmt.Errorf("ADD %s: --checksum must be sha256:<64 hex digits>", src)
	}
	u, err := url.Parse(src)
	if err != nil {
		return entry{}, fmt.Errorf("ADD %s: %w", src, err)
	}
	target := dest
	if destIsDir || strings.HasSuffix(dest, "/") {
		name := path.Base(u.Path)
		if name == "/" || name == "." || name == "" {
			name = "index.html"
		}
		target = path.Join(dest, name)
	}
	fetch := func() ([]byte, error) {
		ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, src, nil)
		if err != nil {
			return nil, err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("ADD %s: %s", src, resp.Status)
		}
		data, err := io.ReadAll(io.LimitReader(resp.Body, maxURLSize+1))
		if err != nil {
			return nil, fmt.Errorf("ADD %s: %w", src, err)
		}
		if len(data) > maxURLSize {
			return nil, fmt.Errorf("ADD %s: larger than %d bytes", src, maxURLSize)
		}
		sum := sha256.Sum256(data)
		if got := hex.EncodeToString(sum[:]); got != want {
			return nil, fmt.Errorf("ADD %s: checksum mismatch: the download is sha256:%s, --checksum says sha256:%s", src, got, want)
		}
		return data, nil
	}
	// The download happens when the step runs, not when it is found in
	// the cache (the checksum is its key).
	var data []byte
	e := entry{path: strings.TrimPrefix(path.Clean(target), "/"), typ: tar.TypeReg, mode: 0o600}
	e.open = func() (io.ReadCloser, error) {
		if data == nil {
			var err error
			if data, err = fetch(); err != nil {
				return nil, err
			}
		}
		return io.NopCloser(bytes.NewReader(data)), nil
	}
	e.sizeFunc = func() (int64, error) {
		if data == nil {
			var err error
			if data, err = fetch(); err != nil {
				return 0, err
			}
		}
		return int64(len(data)), nil
	}
	return e, nil
}
