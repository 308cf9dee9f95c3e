//go:build !unix

package pathstate

// lock does nothing where flock does not exist: the rename keeps the file
// whole, and concurrent runs may lose each other's news.
func lock(name string) (func(), error) { return func() {}, nil }
