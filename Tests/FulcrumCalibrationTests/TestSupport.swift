import FulcrumKernels
@testable import FulcrumCalibration

/// Deterministic test data: the package's SplitMix64 with the two draws the tests use.
typealias TestGenerator = SplitMix64

extension SplitMix64 {
    /// Uniform in [0, 1).
    mutating func unit() -> Double { Double(next() >> 11) * 0x1p-53 }
    /// Uniform in 0..<bound (modulo draw: the tiny bias does not matter for test data).
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
