// The umbrella module: `import Fulcrum` brings every Fulcrum module.
@_exported import FulcrumKernels
@_exported import FulcrumLosses
@_exported import FulcrumMoE
@_exported import FulcrumImbalance
@_exported import FulcrumCurvature
@_exported import FulcrumCalibration
