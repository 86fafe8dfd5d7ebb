/// FulcrumImbalance: the SMOTE family, samplers and class reweighting ("SMOTE: Synthetic Minority
/// Over-sampling Technique" and the papers beside it), built on the exact kNN kernel.
public enum FulcrumImbalance {}
