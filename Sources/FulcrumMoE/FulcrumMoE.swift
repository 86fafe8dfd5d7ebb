/// FulcrumMoE: load balancing for Mixture-of-Experts routing ("Demons in the Detail", "AdaMoE"),
/// built on the gating top-k kernel of FulcrumKernels.
public enum FulcrumMoE {}
