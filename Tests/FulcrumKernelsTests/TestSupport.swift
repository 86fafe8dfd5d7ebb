import FulcrumKernels

/// A small deterministic generator for test data (SplitMix64).
struct TestRandom {
    private var generator: SplitMix64
    init(seed: UInt64) { generator = SplitMix64(seed: seed) }

    mutating func next() -> UInt64 { generator.next() }

    /// Uniform in [lower, upper).
    mutating func uniform(_ lower: Double, _ upper: Double) -> Double {
        lower + (upper - lower) * Double(next() >> 11) * 0x1p-53
    }

    /// Uniform in 0..<bound.
    mutating func below(_ bound: Int) -> Int { Int(next() % UInt64(bound)) }

    /// `count` values uniform in [lower, upper).
    mutating func values<T: FulcrumFloat>(_ count: Int, _ lower: Double, _ upper: Double, as _: T.Type = T.self) -> [T] {
        (0..<count).map { _ in T(uniform(lower, upper)) }
    }
}

extension Array {
    /// Calls `body` with a read-only `rows × columns` view of the array.
    func withView<R>(rows: Int, columns: Int, _ body: (MatrixView<Element>) throws -> R) rethrows -> R {
        try withUnsafeBufferPointer {
            try body(MatrixView(unchecked: $0.baseAddress, rows: rows, columns: columns, rowStride: columns))
        }
    }

    /// Calls `body` with a mutable `rows × columns` view of the array.
    mutating func withMutableView<R>(rows: Int, columns: Int, _ body: (MutableMatrixView<Element>) throws -> R) rethrows -> R {
        try withUnsafeMutableBufferPointer {
            try body(MutableMatrixView(unchecked: $0.baseAddress, rows: rows, columns: columns, rowStride: columns))
        }
    }
}

/// Distance in units in the last place between two Floats of the same sign (0 for equal values).
func ulpDistance(_ a: Float, _ b: Float) -> Int {
    if a == b { return 0 }
    if a.isNaN || b.isNaN || (a < 0) != (b < 0) { return Int.max }
    return abs(Int(a.bitPattern) - Int(b.bitPattern))
}

/// Distance in units in the last place between two Doubles of the same sign.
func ulpDistance(_ a: Double, _ b: Double) -> Int {
    if a == b { return 0 }
    if a.isNaN || b.isNaN || (a < 0) != (b < 0) { return Int.max }
    let d = a.bitPattern > b.bitPattern ? a.bitPattern - b.bitPattern : b.bitPattern - a.bitPattern
    return d > UInt64(Int.max) ? Int.max : Int(d)
}

/// Relative difference |a − b| / max(|b|, floor).
func relativeError(_ a: Double, _ b: Double, floor: Double = 1e-30) -> Double {
    abs(a - b) / max(abs(b), floor)
}
