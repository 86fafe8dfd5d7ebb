import Testing
@testable import FulcrumImbalance
