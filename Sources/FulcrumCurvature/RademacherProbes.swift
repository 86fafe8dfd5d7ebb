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
            write(generator.next(), into: x + j, count: min(64, count - j))
            j += 64
        }
    }

    /// `rows` probes of `count` entries, the rows of a matrix, with the entries `fill` gives row
    /// by row. Only the generator's draws run generic over G (a caller's own generator type); the
    /// entries are written by code specialized for T.
    @inlinable
    static func matrix<T: FulcrumFloat, G: RandomNumberGenerator>(rows: Int, count: Int, using generator: inout G) throws -> Matrix<T> {
        let perRow = (count + 63) / 64
        let words = (0..<(rows * perRow)).map { _ in generator.next() }
        return try matrix(words: words, rows: rows, count: count)
    }

    /// The probe matrix from the generator's words, `(count + 63) / 64` per row in row order.
    @usableFromInline
    @specialized(where T == Float)
    @specialized(where T == Double)
    static func matrix<T: FulcrumFloat>(words: [UInt64], rows: Int, count: Int) throws -> Matrix<T> {
        var probes = try Matrix<T>(rows: rows, columns: count, repeating: 0)
        let perRow = (count + 63) / 64
        probes.withMutableView { v in
            for i in 0..<rows {
                for w in 0..<perRow { write(words[i * perRow + w], into: v.row(i) + 64 * w, count: min(64, count - 64 * w)) }
            }
        }
        return probes
    }

    /// x[lane] = ±1 from bit `lane` of `bits` (0 → −1), for `count ≤ 64` lanes.
    @inlinable @inline(__always)
    static func write<T: FulcrumFloat>(_ bits: UInt64, into x: UnsafeMutablePointer<T>, count: Int) {
        var bits = bits
        for lane in 0..<count {
            x[lane] = bits & 1 == 0 ? -1 : 1
            bits >>= 1
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
