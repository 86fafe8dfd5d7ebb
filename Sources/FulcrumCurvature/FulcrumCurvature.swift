/// FulcrumCurvature: spectra, traces and Hessian alignment on the Hessian-vector-product kernel.
public enum FulcrumCurvature {}
