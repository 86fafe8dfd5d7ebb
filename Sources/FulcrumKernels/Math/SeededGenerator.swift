#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A small, fast, seedable random number generator whose output is fixed by its seed on every
/// platform and Swift version: xoshiro256** ("Scrambled Linear Pseudorandom Number Generators",
/// Blackman and Vigna), its 256-bit state filled from the seed by SplitMix64.
///
/// Every random choice Fulcrum makes (k-means++ seeding, the samplers of FulcrumImbalance) draws
/// from a generator the caller owns and seeds, through `nextUnit()` and `nextIndex(below:)` only,
/// so that the same seed gives bitwise the same result whatever the thread count. The standard
/// library's `random(in:using:)` helpers are deliberately not used: their algorithms may change.
///
/// ```swift
/// var generator = SeededGenerator(seed: 42)
/// let u = generator.nextUnit()          // uniform in [0, 1)
/// let i = generator.nextIndex(below: 10) // uniform in 0..<10
/// ```
public struct SeededGenerator: RandomNumberGenerator, Sendable, Equatable {
    @usableFromInline var state: (UInt64, UInt64, UInt64, UInt64)

    /// A generator whose whole stream is fixed by `seed`.
    public init(seed: UInt64) {
        var s = seed
        func splitMix() -> UInt64 {
            s &+= 0x9E37_79B9_7F4A_7C15
            var z = s
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        state = (splitMix(), splitMix(), splitMix(), splitMix())
    }

    /// The next 64 random bits (xoshiro256**).
    @inlinable
    public mutating func next() -> UInt64 {
        let result = rotateLeft(state.1 &* 5, 7) &* 9
        let t = state.1 << 17
        state.2 ^= state.0
        state.3 ^= state.1
        state.1 ^= state.2
        state.0 ^= state.3
        state.2 ^= t
        state.3 = rotateLeft(state.3, 45)
        return result
    }

    /// Uniform in [0, 1) with 53 random bits.
    @inlinable
    public mutating func nextUnit() -> Double { Double(next() >> 11) * 0x1p-53 }

    /// Uniform in `0..<bound` without modulo bias (Lemire's multiply-and-reject).
    ///
    /// `bound` must be positive; callers validate it (this traps on `bound <= 0`, an internal
    /// invariant, never on caller input).
    @inlinable
    public mutating func nextIndex(below bound: Int) -> Int {
        precondition(bound > 0, "nextIndex(below:) needs a positive bound")
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
        return (-2 * Double.log(u1)).squareRoot() * _cosine(2 * Double.pi * u2)
    }

    public static func == (a: SeededGenerator, b: SeededGenerator) -> Bool {
        a.state == b.state
    }
}

@inlinable @inline(__always)
func rotateLeft(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }

@usableFromInline func _cosine(_ x: Double) -> Double { cos(x) }
