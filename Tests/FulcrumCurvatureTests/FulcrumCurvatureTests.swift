import Testing
@testable import FulcrumCurvature
