import Testing
@testable import FulcrumLosses
