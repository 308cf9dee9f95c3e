package fastopen

// KernelReportsClientFail exposes kernelReportsClientFail to the tests.
var KernelReportsClientFail = kernelReportsClientFail

// SetTestHookBeforeTrigger sets the hook that runs before a Read (or an
// empty Write) sends its data-less SYN; nil removes it.
func SetTestHookBeforeTrigger(f func()) { testHookBeforeTrigger = f }

// SetKernelReportsClientFail makes the package behave as on a kernel that
// does (true) or does not (false, before Linux 5.5) fill
// tcpi_fastopen_client_fail; it returns the function that restores it.
func SetKernelReportsClientFail(v bool) (restore func()) {
	old := kernelReportsClientFail
	kernelReportsClientFail = v
	return func() { kernelReportsClientFail = old }
}
