/// A small owning row-major matrix: a convenience on top of the views, not the only door.
///
/// Storage is a contiguous array (`rowStride == columns`). Use `view` and `mutableView` inside
/// the closures of `withView`/`withMutableView` to pass it to kernels without copying.
public struct Matrix<Element>: @unchecked Sendable {
    /// The elements, row after row. Read-only, so that its count always matches rows × columns
    /// (the views built over it are not checked); write through the subscript or
    /// `withMutableView`.
    @inlinable
    public var storage: [Element] { elements }
    @usableFromInline
    var elements: [Element]
    /// Number of rows.
    public let rows: Int
    /// Number of columns.
    public let columns: Int

    /// A `rows × columns` matrix with every element `value`.
    ///
    /// - Throws: `FulcrumError.invalidParameter` for a negative count or rows × columns beyond Int.
    public init(rows: Int, columns: Int, repeating value: Element) throws {
        guard rows >= 0 else { throw FulcrumError.invalidParameter(argument: "rows", value: "\(rows)", requirement: ">= 0") }
        guard columns >= 0 else { throw FulcrumError.invalidParameter(argument: "columns", value: "\(columns)", requirement: ">= 0") }
        self.elements = Array(repeating: value, count: try elementCount(rows, columns))
        self.rows = rows
        self.columns = columns
    }

    /// A `rows × columns` matrix over `elements` (row-major).
    ///
    /// - Throws: `FulcrumError.shapeMismatch` unless `elements.count == rows * columns`;
    ///   `invalidParameter` for a negative count or a product beyond Int.
    public init(rows: Int, columns: Int, elements: [Element]) throws {
        guard rows >= 0, columns >= 0 else {
            throw FulcrumError.invalidParameter(argument: "rows, columns", value: "\(rows), \(columns)", requirement: ">= 0")
        }
        try checkCount(elements.count, try elementCount(rows, columns), argument: "elements")
        self.elements = elements
        self.rows = rows
        self.columns = columns
    }

    /// Element `(i, j)`.
    @inlinable
    public subscript(i: Int, j: Int) -> Element {
        get { elements[i * columns + j] }
        set { elements[i * columns + j] = newValue }
    }

    /// Calls `body` with a read-only view of the matrix.
    @inlinable
    public func withView<R>(_ body: (MatrixView<Element>) throws -> R) rethrows -> R {
        try elements.withUnsafeBufferPointer {
            try body(MatrixView(unchecked: $0.baseAddress, rows: rows, columns: columns, rowStride: columns))
        }
    }

    /// Calls `body` with a mutable view of the matrix.
    @inlinable
    public mutating func withMutableView<R>(_ body: (MutableMatrixView<Element>) throws -> R) rethrows -> R {
        let (rows, columns) = (self.rows, self.columns)
        return try elements.withUnsafeMutableBufferPointer {
            try body(MutableMatrixView(unchecked: $0.baseAddress, rows: rows, columns: columns, rowStride: columns))
        }
    }
}

/// rows·columns, or `invalidParameter` naming both when the product overflows Int.
func elementCount(_ rows: Int, _ columns: Int) throws -> Int {
    let (count, overflow) = rows.multipliedReportingOverflow(by: columns)
    guard !overflow else {
        throw FulcrumError.invalidParameter(argument: "rows, columns", value: "\(rows), \(columns)", requirement: "rows × columns <= Int.max")
    }
    return count
}
