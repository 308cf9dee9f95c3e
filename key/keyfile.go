package key

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/fastopen/fastopen"
	"github.com/fastopen/fastopen/internal/atomicfile"
)

// Errors wrapped by LoadKeyFile and LoadSecretFile, one per problem, so
// that callers and tests can tell them apart (errors.Is); the messages
// around them say "key file" or "secret file". fastopen.ErrKeyLength and
// fastopen.ErrKeyNotHex cover the content of a key file.
var (
	// ErrKeyFileMissing: the file does not exist.
	ErrKeyFileMissing = errors.New("does not exist")
	// ErrKeyFileNotRegular: the path names a directory or another
	// non-file.
	ErrKeyFileNotRegular = errors.New("is not a regular file")
	// ErrKeyFilePermissions: the file can be read by every user.
	ErrKeyFilePermissions = errors.New("is world-readable")
	// ErrKeyFileEmpty: the file holds no key.
	ErrKeyFileEmpty = errors.New("is empty")
	// ErrKeyFileTooLarge: the file is larger than MaxKeyFileSize.
	ErrKeyFileTooLarge = errors.New("is too large")
)

// MaxKeyFileSize is the most bytes read from a key file or a secret file.
// A key file holds two 35-character keys, a secret 32 to 64 bytes (44 as
// `head -c 32 /dev/urandom | base64` makes it); 4 KiB leaves room for
// comments while a watcher that looks at the file every second never
// reads more than that, whatever someone puts at the path. A larger file
// is refused (ErrKeyFileTooLarge) without being read.
const MaxKeyFileSize = 4 << 10

// LoadKeyFile reads a server key file: one key in fastopen.Key's text format
// (`fastopen key new` output), optionally followed by a backup key after
// a comma or on the next line, as net.ipv4.tcp_fastopen_key takes them.
// Blank lines and lines starting with # are ignored. The file must not be
// world-readable nor larger than MaxKeyFileSize. Each problem gets its
// own error (ErrKeyFileMissing, ErrKeyFileNotRegular,
// ErrKeyFilePermissions, ErrKeyFileTooLarge, ErrKeyFileEmpty,
// fastopen.ErrKeyLength, fastopen.ErrKeyNotHex),
// which says how to fix it and never contains key material.
func LoadKeyFile(path string) (primary fastopen.Key, backup *fastopen.Key, err error) {
	data, err := readSecret(path, "key file", "fastopen key new > "+path)
	if err != nil {
		return primary, nil, err
	}
	primary, backup, err = parseKeyFile(data)
	switch {
	case errors.Is(err, ErrKeyFileEmpty):
		return primary, nil, fmt.Errorf("%s: %w: put a key in it, e.g. fastopen key new > %s", path, err, path)
	case err != nil:
		return primary, nil, fmt.Errorf("%s: %w (a key looks like 0123abcd-4567ef01-89abcdef-01234567; make one with fastopen key new)", path, err)
	}
	return primary, backup, nil
}

// parseKeyFile is LoadKeyFile's parser of the file's content.
func parseKeyFile(data []byte) (primary fastopen.Key, backup *fastopen.Key, err error) {
	var lines []string
	for _, l := range strings.Split(string(data), "\n") {
		l = strings.TrimSpace(l)
		if l != "" && !strings.HasPrefix(l, "#") {
			lines = append(lines, l)
		}
	}
	if len(lines) == 0 {
		return primary, nil, fmt.Errorf("key file %w", ErrKeyFileEmpty)
	}
	return fastopen.ParseKeys(strings.Join(lines, ","))
}

// readSecret reads a file that holds secret material (what names it in
// errors: "key file", "secret file") after checking that it exists, is a
// regular file and is not world-readable; create is the command that makes
// a good one.
func readSecret(path, what, create string) ([]byte, error) {
	st, err := os.Stat(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%s: %s %w: create it with: %s && chmod 600 %s", path, what, ErrKeyFileMissing, create, path)
		}
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: %s %w (%s): give the path of the file itself", path, what, ErrKeyFileNotRegular, atomicfile.Kind(st.Mode()))
	}
	if perm := st.Mode().Perm(); perm&0o004 != 0 {
		return nil, fmt.Errorf("%s: %s %w (mode %04o): anyone on the machine could forge cookies; run chmod 600 %s (Kubernetes: defaultMode 0400 on the Secret volume)", path, what, ErrKeyFilePermissions, perm, path)
	}
	if err := checkSize(path, what, st.Size()); err != nil {
		return nil, err
	}
	data, err := readBounded(path)
	if err != nil {
		if errors.Is(err, fs.ErrPermission) {
			return nil, fmt.Errorf("%s: cannot read the %s: %w (run as its owner or root)", path, what, err)
		}
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	// The file may have grown between the stat and the read.
	if err := checkSize(path, what, int64(len(data))); err != nil {
		return nil, err
	}
	return data, nil
}

// checkSize refuses a file of more than MaxKeyFileSize bytes.
func checkSize(path, what string, size int64) error {
	if size > MaxKeyFileSize {
		return fmt.Errorf("%s: %s %w (%d bytes, at most %d): it should hold only a key or a secret; is it the right file?", path, what, ErrKeyFileTooLarge, size, MaxKeyFileSize)
	}
	return nil
}

// readBounded reads at most MaxKeyFileSize+1 bytes of path: enough to
// tell that a file is too large without reading all of it.
func readBounded(path string) ([]byte, error) {
	return atomicfile.ReadRegular(path, MaxKeyFileSize)
}

// WriteKeyFile writes keys in LoadKeyFile's format with mode 0600,
// atomically (a temporary file renamed over path), so that a watcher
// never sees a half-written file.
func WriteKeyFile(path string, primary fastopen.Key, backup *fastopen.Key) error {
	return atomicfile.Write(path, []byte(fastopen.FormatKeys(primary, backup)+"\n"), 0o600)
}

// KeyWatcher keeps a server's key in step with a key file. It polls the
// file every Interval (default 1s) and reloads when its content or mode
// changes: this sees editors, atomic renames, Kubernetes Secret symlink
// swaps and Vault agent rewrites without inotify. Reload forces a load
// (wire it to SIGHUP). A file that fails to load is reported and the
// previously installed key stays. Load and Reload may be called from any
// goroutine (Reload from a signal handler's), also while Run runs; the
// fields must be set before the first call and not changed after.
type KeyWatcher struct {
	// Path is the key file.
	Path string
	// Interval is the polling period; zero means one second.
	Interval time.Duration
	// Install puts loaded keys into effect (SetListenerKey, SetSysctlKey);
	// its error counts as a failed load. Nil only checks the file.
	Install func(primary fastopen.Key, backup *fastopen.Key) error
	// OnResult, if set, is called after every load attempt with its error
	// (nil on success), e.g. to count reloads and failures.
	OnResult func(err error)
	// Log, if set, receives one line per reload or failure.
	Log *slog.Logger

	mu     sync.Mutex
	last   [sha256.Size]byte // fingerprint of the last file state tried
	tried  bool
	loaded bool
	force  chan struct{}
}

// Load loads the file and installs its keys. Use it once at start-up:
// its error (from LoadKeyFile or Install) means the server has no key
// from the file.
func (w *KeyWatcher) Load() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.tried = false
	return w.check()
}

// Reload asks a running Run to load the file now, even if it looks
// unchanged. It does not block.
func (w *KeyWatcher) Reload() {
	w.mu.Lock()
	if w.force == nil {
		w.force = make(chan struct{}, 1)
	}
	ch := w.force
	w.mu.Unlock()
	select {
	case ch <- struct{}{}:
	default:
	}
}

// Run polls until ctx ends. It returns ctx's error.
func (w *KeyWatcher) Run(ctx context.Context) error {
	iv := w.Interval
	if iv <= 0 {
		iv = time.Second
	}
	w.mu.Lock()
	if w.force == nil {
		w.force = make(chan struct{}, 1)
	}
	force := w.force
	w.mu.Unlock()
	t := time.NewTicker(iv)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
			w.mu.Lock()
			w.check()
			w.mu.Unlock()
		case <-force:
			w.mu.Lock()
			w.tried = false
			w.check()
			w.mu.Unlock()
		}
	}
}

// fingerprint identifies the file's state: mode and content, or the
// error that stopped us from reading it.
func (w *KeyWatcher) fingerprint() [sha256.Size]byte {
	h := sha256.New()
	st, err := os.Stat(w.Path)
	if err != nil {
		fmt.Fprintf(h, "stat error %v", err)
	} else {
		fmt.Fprintf(h, "mode %v size %d\n", st.Mode(), st.Size())
		// Never read a pipe or a device: it could block or never end.
		// LoadKeyFile reports it (ErrKeyFileNotRegular). Never read a
		// file that is too large either: its size is its fingerprint,
		// and LoadKeyFile reports it (ErrKeyFileTooLarge) once per
		// change of size or mode, without reading it.
		if st.Mode().IsRegular() && st.Size() <= MaxKeyFileSize {
			data, err := readBounded(w.Path)
			if err != nil {
				fmt.Fprintf(h, "read error %v", err)
			}
			h.Write(data)
		}
	}
	var fp [sha256.Size]byte
	copy(fp[:], h.Sum(nil))
	return fp
}

// check loads the file if its state differs from the last one tried.
// w.mu is held.
func (w *KeyWatcher) check() error {
	fp := w.fingerprint()
	if w.tried && bytes.Equal(fp[:], w.last[:]) {
		return nil
	}
	w.last, w.tried = fp, true
	primary, backup, err := LoadKeyFile(w.Path)
	if err == nil && w.Install != nil {
		err = w.Install(primary, backup)
	}
	if w.OnResult != nil {
		w.OnResult(err)
	}
	if w.Log != nil {
		switch {
		case err != nil && w.loaded:
			w.Log.Error("TFO key file not loaded; keeping the previous key", "file", w.Path, "err", err)
		case err != nil:
			w.Log.Error("TFO key file not loaded", "file", w.Path, "err", err)
		default:
			w.Log.Info("TFO key loaded", "file", w.Path, "backup", backup != nil)
		}
	}
	if err == nil {
		w.loaded = true
	}
	return err
}
