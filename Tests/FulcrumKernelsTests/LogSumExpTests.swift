import Foundation
import Testing
@testable import FulcrumKernels

@Suite("Row log-sum-exp")
struct LogSumExpTests {
    static func lse(_ x: [Double]) -> Double {
        let m = x.max()!
        return m + log(x.reduce(0) { $0 + exp($1 - m) })
    }

    @Test("Matches a Double reference for lengths around the vector width and huge magnitudes",
          arguments: [1, 3, 8, 9, 100, 1000, 4099])
    func reference(count: Int) {
        var random = TestRandom(seed: UInt64(count))
        for scale in [1.0, 80, 1e4, 1e30] {
            let x: [Float] = random.values(count, -scale, scale)
            let got = x.withUnsafeBufferPointer { Float.logSumExp($0.baseAddress!, count: count) }
            #expect(relativeError(Double(got), Self.lse(x.map(Double.init))) <= 1e-6)
            let xd = x.map(Double.init)
            let gotDouble = xd.withUnsafeBufferPointer { Double.logSumExp($0.baseAddress!, count: count) }
            #expect(relativeError(gotDouble, Self.lse(xd)) <= 1e-14)
        }
    }

    @Test("Special values: empty, all −∞, NaN, +∞")
    func specials() {
        func lse(_ x: [Float]) -> Float { x.withUnsafeBufferPointer { Float.logSumExp($0.baseAddress ?? UnsafePointer(bitPattern: 8)!, count: x.count) } }
        #expect(lse([]) == -.infinity)
        #expect(lse([-.infinity, -.infinity]) == -.infinity)
        #expect(lse([1, .nan, 3]).isNaN)
        #expect(lse([1, .infinity, 3]) == .infinity)
        #expect(lse([.infinity, .nan]).isNaN)
        #expect(lse([0, 0, 0, 0]) == Float(log(4.0)))
    }
}
