package fastopen

// KernelReportsClientFail exposes kernelReportsClientFail to the tests.
var KernelReportsClientFail = kernelReportsClientFail

// SetTestHookBeforeTrigger sets the hook that runs before a Read (or an
// empty Write) sends its data-less SYN; nil removes it.
func SetTestHookBeforeTrigger(f func()) { testHookBeforeTrigger = f }
