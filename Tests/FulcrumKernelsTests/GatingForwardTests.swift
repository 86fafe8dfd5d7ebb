import Testing
@testable import FulcrumKernels
