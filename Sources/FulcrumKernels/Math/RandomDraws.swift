#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The random draws Fulcrum's routines make from the caller's generator (`SplitMix64` or any
/// `RandomNumberGenerator`), defined on `next()` alone so that a seed fixes the result on every
/// platform and Swift version (the standard library's `random(in:using:)` algorithms may
/// change). Results are also independent of the thread count: a routine either draws on the
/// calling thread in a fixed order, or (the SMOTE family's synthesis plan) takes one draw from the
/// caller's generator to seed a `SplitMix64` per fixed block of work.
extension RandomNumberGenerator {
    /// Uniform in [0, 1) with 53 random bits.
    @inlinable
    public mutating func nextUnit() -> Double { Double(next() >> 11) * 0x1p-53 }

    /// Uniform in `0..<bound` without modulo bias (Lemire's multiply-and-reject).
    ///
    /// A `bound` of 0 or less (an empty range) gives 0 without drawing, so the
    /// function never traps; Fulcrum's callers validate their ranges before drawing.
    @inlinable
    public mutating func nextIndex(below bound: Int) -> Int {
        guard bound > 0 else { return 0 }
        let b = UInt64(bound)
        var product = next().multipliedFullWidth(by: b)
        if product.low < b {
            let threshold = (0 &- b) % b
            while product.low < threshold { product = next().multipliedFullWidth(by: b) }
        }
        return Int(product.high)
    }

    /// A standard normal deviate (Box–Muller on two `nextUnit()` draws, the cosine branch).
    @inlinable
    public mutating func nextNormal() -> Double {
        let u1 = 1 - nextUnit()  // (0, 1]: the logarithm stays finite
        let u2 = nextUnit()
        return (-2 * Double.log(u1)).squareRoot() * fulcrumCosine(2 * Double.pi * u2)
    }
}

@usableFromInline func fulcrumCosine(_ x: Double) -> Double { cos(x) }
