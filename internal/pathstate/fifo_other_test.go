//go:build !unix

package pathstate

import "errors"

func mkfifo(string) error { return errors.ErrUnsupported }
