import FulcrumKernels
@testable import FulcrumCalibration

/// SplitMix64: deterministic test data.
struct TestGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    mutating func unit() -> Double { Double(next() >> 11) * 0x1p-53 }
    mutating func below(_ bound: Int) -> Int { Int(next() % UInt64(bound)) }
}

/// Relative-or-absolute closeness.
func close(_ a: Double, _ b: Double, _ tolerance: Double = 1e-12) -> Bool {
    abs(a - b) <= tolerance * max(1, abs(a), abs(b))
}

/// Calls `body` with buffers over the arrays.
@discardableResult
func with<R>(_ scores: [Float], _ labels: [Int32], _ weights: [Float]? = nil,
             _ body: (UnsafeBufferPointer<Float>, UnsafeBufferPointer<Int32>, UnsafeBufferPointer<Float>?) throws -> R) rethrows -> R {
    try scores.withUnsafeBufferPointer { s in
        try labels.withUnsafeBufferPointer { y in
            if let weights {
                return try weights.withUnsafeBufferPointer { try body(s, y, $0) }
            }
            return try body(s, y, nil)
        }
    }
}

/// Calls `body` with a view over a row-major matrix.
func withMatrix<R>(_ elements: [Float], rows: Int, columns: Int, _ body: (MatrixView<Float>) throws -> R) rethrows -> R {
    try elements.withUnsafeBufferPointer {
        try body(MatrixView(unchecked: $0.baseAddress, rows: rows, columns: columns, rowStride: columns))
    }
}
