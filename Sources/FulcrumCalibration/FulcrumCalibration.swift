/// FulcrumCalibration: ranking and calibration metrics, temperature scaling, Mahalanobis OOD scores.
public enum FulcrumCalibration {}
