import Testing
@testable import FulcrumMoE
