import Foundation
import Testing
@testable import FulcrumKernels

@Suite("logisticParts: e^{−|x|}, 1/(1 + e) and log1p(e) against the system libm")
struct VectorLogisticTests {
    /// (e, r, log1p(e)) lane by lane over `inputs`.
    static func parts<T: FulcrumFloat>(_ inputs: [T]) -> [(T, T, T)] {
        let e = VectorMathTests.apply(inputs) { T.logisticParts($0).exponential }
        let r = VectorMathTests.apply(inputs) { T.logisticParts($0).reciprocal }
        let l = VectorMathTests.apply(inputs) { T.logisticParts($0).log1pExponential }
        return (0..<inputs.count).map { (e[$0], r[$0], l[$0]) }
    }

    // log1p(e) ≈ e for small e, so e's own error (≤ 2 ulp) carries into it. Float: r = 1/(1 + e)
    // adds the roundings of 1 + e and of the division to at most half of e's error (≤ 2 ulp), and
    // log1p(e) adds the polynomial's 1.6 (≤ 4). Double: the roundings of 2 + e, (1 + e)(2 + e),
    // the division, e·(1 + e)·q and the series (≤ 4 and ≤ 6).
    @Test("Float: e within 2 ulp, 1/(1 + e) within 2, log1p(e) within 4 of the correctly rounded values for |x| ≤ 87")
    func floatSweep() {
        var inputs: [Float] = []
        for bits in stride(from: UInt32(0), through: Float(87).bitPattern, by: 211) {
            inputs.append(Float(bitPattern: bits))
            inputs.append(-Float(bitPattern: bits))
        }
        var worst = (0, 0, 0)
        for (x, (e, r, l)) in zip(inputs, Self.parts(inputs)) {
            let exact = Foundation.exp(-abs(Double(x)))
            worst.0 = max(worst.0, ulpDistance(e, Float(exact)))
            worst.1 = max(worst.1, ulpDistance(r, Float(1 / (1 + exact))))
            worst.2 = max(worst.2, ulpDistance(l, Float(Foundation.log1p(exact))))
        }
        #expect(inputs.count > 1_000_000)
        #expect(worst.0 <= 2 && worst.1 <= 2 && worst.2 <= 4, "\(worst)")
    }

    @Test("Double: e within 2 ulp, 1/(1 + e) within 4, log1p(e) within 6 of libm for |x| ≤ 708")
    func doubleSweep() {
        var random = TestRandom(seed: 9)
        let inputs: [Double] = (0..<200_000).map { _ in random.uniform(-708, 708) } + (0..<200_000).map { _ in random.uniform(-3, 3) }
        var worst = (0, 0, 0)
        for (x, (e, r, l)) in zip(inputs, Self.parts(inputs)) {
            let exact = Foundation.exp(-abs(x))
            worst.0 = max(worst.0, ulpDistance(e, exact))
            worst.1 = max(worst.1, ulpDistance(r, 1 / (1 + exact)))
            worst.2 = max(worst.2, ulpDistance(l, Foundation.log1p(exact)))
        }
        #expect(worst.0 <= 2 && worst.1 <= 4 && worst.2 <= 6, "\(worst)")
    }

    @Test("±∞ give (0, 1, 0), beyond the normal range e flushes to 0, NaN stays NaN")
    func specials() {
        let inputs: [Float] = [.infinity, -.infinity, 88, -100, 0, .nan]
        let p = Self.parts(inputs)
        #expect(p[0] == (0, 1, 0) && p[1] == (0, 1, 0) && p[2] == (0, 1, 0) && p[3] == (0, 1, 0))
        #expect(p[4].0 == 1 && p[4].1 == 0.5 && p[4].2 == Float(Foundation.log(2.0)))
        #expect(p[5].0.isNaN && p[5].1.isNaN && p[5].2.isNaN)
    }
}
