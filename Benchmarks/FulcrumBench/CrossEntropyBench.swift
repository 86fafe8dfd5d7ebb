import FulcrumKernels

/// Family `cross-entropy` and `linear-cross-entropy` (filled in with the kernel).
func crossEntropyBenchmarks(_ context: BenchContext) throws {}
