import FulcrumKernels

/// Random probe vectors for the stochastic estimators.
@usableFromInline
enum RademacherProbes {
    /// Fills `x` with independent ±1 entries, one bit of `generator` per entry (64 per draw), in
    /// order: the same generator state gives the same probes on every machine and thread count.
    @inlinable
    static func fill<T: FulcrumFloat, G: RandomNumberGenerator>(_ x: UnsafeMutablePointer<T>, count: Int, using generator: inout G) {
        var j = 0
        while j < count {
            var bits = generator.next()
            for lane in 0..<min(64, count - j) {
                x[j + lane] = bits & 1 == 0 ? -1 : 1
                bits >>= 1
            }
            j += 64
        }
    }
}

/// Throws `nonFiniteValue` naming `argument` when `x` holds a NaN or an infinity: an operator that
/// returns one would otherwise poison every later iterate silently.
@inlinable
func checkFinite<T: FulcrumFloat>(_ x: UnsafePointer<T>, count: Int, argument: String, row: Int = 0) throws {
    if let j = VectorArithmetic.firstNonFinite(x, count: count) {
        throw FulcrumError.nonFiniteValue(argument: argument, row: row, column: j)
    }
}
