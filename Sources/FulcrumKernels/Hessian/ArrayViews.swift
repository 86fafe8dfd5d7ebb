// Small conveniences for the Hessian operators' owned arrays.

/// A contiguous copy of the rows of `m`.
func copyRows<T>(_ m: MatrixView<T>) -> [T] {
    var out: [T] = []
    out.reserveCapacity(m.rows * m.columns)
    for i in 0..<m.rows { out.append(contentsOf: UnsafeBufferPointer(start: m.row(i), count: m.columns)) }
    return out
}

extension Array {
    /// A read-only rows × columns view of the array for the duration of `body`.
    func withView<R>(_ rows: Int, _ columns: Int, _ body: (MatrixView<Element>) throws -> R) rethrows -> R {
        try withUnsafeBufferPointer { try body(MatrixView(unchecked: $0.baseAddress, rows: rows, columns: columns, rowStride: columns)) }
    }

    /// A mutable rows × columns view of the array for the duration of `body`.
    mutating func withMutableView<R>(_ rows: Int, _ columns: Int, _ body: (MutableMatrixView<Element>) throws -> R) rethrows -> R {
        try withUnsafeMutableBufferPointer { try body(MutableMatrixView(unchecked: $0.baseAddress, rows: rows, columns: columns, rowStride: columns)) }
    }
}
