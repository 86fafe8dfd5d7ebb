import Testing
@testable import FulcrumCalibration
