package fastopen

// KernelReportsClientFail exposes kernelReportsClientFail to the tests.
var KernelReportsClientFail = kernelReportsClientFail
