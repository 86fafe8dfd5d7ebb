/// FulcrumLosses: the seed papers' losses as fused forward+backward kernels on the softmax
/// cross-entropy kernel.
public enum FulcrumLosses {}
