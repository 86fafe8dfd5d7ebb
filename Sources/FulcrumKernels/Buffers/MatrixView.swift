/// A read-only, zero-copy view of a row-major matrix in caller memory.
///
/// Element `(i, j)` lives at `baseAddress[i * rowStride + j]`; rows may be padded
/// (`rowStride ≥ columns`). The view never owns or frees memory: the caller keeps the memory
/// alive and unchanged for as long as a Fulcrum call uses the view. Views are `Sendable` so that
/// kernels can hand them to worker threads; reading from several threads at once is safe.
public struct MatrixView<Element>: @unchecked Sendable {
    /// Address of element `(0, 0)`; `nil` only for an empty matrix.
    public let baseAddress: UnsafePointer<Element>?
    /// Number of rows.
    public let rows: Int
    /// Number of columns (elements per row that belong to the matrix).
    public let columns: Int
    /// Distance in elements between the starts of consecutive rows.
    public let rowStride: Int

    /// Views `buffer` as a `rows × columns` matrix whose rows start `rowStride` elements apart.
    ///
    /// - Throws: `FulcrumError.invalidBuffer` when a count is negative, `rowStride < columns`,
    ///   or the buffer holds fewer than `(rows − 1)·rowStride + columns` elements (that count may
    ///   exceed Int).
    public init(_ buffer: UnsafeBufferPointer<Element>, rows: Int, columns: Int, rowStride: Int? = nil) throws {
        let stride = rowStride ?? columns
        try validateLayout(count: buffer.count, rows: rows, columns: columns, rowStride: stride, argument: "buffer")
        self.init(unchecked: buffer.baseAddress, rows: rows, columns: columns, rowStride: stride)
    }

    /// Views memory the caller has already validated. Fulcrum uses it internally for sub-views.
    @inlinable
    public init(unchecked baseAddress: UnsafePointer<Element>?, rows: Int, columns: Int, rowStride: Int) {
        self.baseAddress = baseAddress
        self.rows = rows
        self.columns = columns
        self.rowStride = rowStride
    }

    /// A read-only view of a mutable view.
    @inlinable
    public init(_ view: MutableMatrixView<Element>) {
        self.init(unchecked: view.baseAddress.map { UnsafePointer($0) }, rows: view.rows,
                  columns: view.columns, rowStride: view.rowStride)
    }

    /// `true` when rows follow each other without padding.
    @inlinable public var isContiguous: Bool { rowStride == columns || rows <= 1 }

    /// The shape written like `4096x32768`.
    public var shape: String { shapeDescription(rows, columns) }

    /// Address of the first element of row `i`. `i` must lie in `0..<rows`.
    @inlinable @inline(__always)
    public func row(_ i: Int) -> UnsafePointer<Element> { baseAddress.unsafelyUnwrapped + i * rowStride }

    /// Element `(i, j)`.
    @inlinable @inline(__always)
    public subscript(i: Int, j: Int) -> Element { row(i)[j] }

    /// Rows `range` as a view of the same memory.
    @inlinable
    public func rows(_ range: Range<Int>) -> MatrixView {
        MatrixView(unchecked: range.isEmpty ? baseAddress : row(range.lowerBound), rows: range.count,
                   columns: columns, rowStride: rowStride)
    }
}

/// A mutable, zero-copy view of a row-major matrix in caller memory.
///
/// The same layout rules as `MatrixView`. A kernel that writes through a view writes only the
/// `columns` elements of each row, never the padding. Writing to the same view from several calls
/// at once is a data race, as with any buffer.
public struct MutableMatrixView<Element>: @unchecked Sendable {
    /// Address of element `(0, 0)`; `nil` only for an empty matrix.
    public let baseAddress: UnsafeMutablePointer<Element>?
    /// Number of rows.
    public let rows: Int
    /// Number of columns.
    public let columns: Int
    /// Distance in elements between the starts of consecutive rows.
    public let rowStride: Int

    /// Views `buffer` as a mutable `rows × columns` matrix; see `MatrixView.init(_:rows:columns:rowStride:)`.
    public init(_ buffer: UnsafeMutableBufferPointer<Element>, rows: Int, columns: Int, rowStride: Int? = nil) throws {
        let stride = rowStride ?? columns
        try validateLayout(count: buffer.count, rows: rows, columns: columns, rowStride: stride, argument: "buffer")
        self.init(unchecked: buffer.baseAddress, rows: rows, columns: columns, rowStride: stride)
    }

    /// Views memory the caller has already validated.
    @inlinable
    public init(unchecked baseAddress: UnsafeMutablePointer<Element>?, rows: Int, columns: Int, rowStride: Int) {
        self.baseAddress = baseAddress
        self.rows = rows
        self.columns = columns
        self.rowStride = rowStride
    }

    /// `true` when rows follow each other without padding.
    @inlinable public var isContiguous: Bool { rowStride == columns || rows <= 1 }

    /// The shape written like `4096x32768`.
    public var shape: String { shapeDescription(rows, columns) }

    /// Address of the first element of row `i`. `i` must lie in `0..<rows`.
    @inlinable @inline(__always)
    public func row(_ i: Int) -> UnsafeMutablePointer<Element> { baseAddress.unsafelyUnwrapped + i * rowStride }

    /// Element `(i, j)`.
    @inlinable @inline(__always)
    public subscript(i: Int, j: Int) -> Element {
        get { row(i)[j] }
        nonmutating set { row(i)[j] = newValue }
    }

    /// Whether this view starts at the first element of `input`: an output written over its own
    /// input (in place). Views without memory never match.
    @inlinable
    public func startsAt(_ input: MatrixView<Element>) -> Bool {
        baseAddress != nil && UnsafePointer(baseAddress) == input.baseAddress
    }

    /// Rows `range` as a view of the same memory.
    @inlinable
    public func rows(_ range: Range<Int>) -> MutableMatrixView {
        MutableMatrixView(unchecked: range.isEmpty ? baseAddress : row(range.lowerBound), rows: range.count,
                          columns: columns, rowStride: rowStride)
    }

    /// Sets every element to `value`.
    @inlinable
    public func fill(with value: Element) {
        for i in 0..<rows { row(i).update(repeating: value, count: columns) }
    }
}

/// Checks that a buffer of `count` elements holds a `rows × columns` matrix with `rowStride`.
func validateLayout(count: Int, rows: Int, columns: Int, rowStride: Int, argument: String) throws {
    guard rows >= 0, columns >= 0 else {
        throw FulcrumError.invalidBuffer(argument: argument, reason: "negative shape \(rows)x\(columns)")
    }
    guard rowStride >= columns else {
        throw FulcrumError.invalidBuffer(argument: argument, reason: "row stride \(rowStride) < columns \(columns)")
    }
    // (rows − 1)·rowStride + columns, or nil when it overflows Int (no buffer can hold it).
    let needed: Int? = rows == 0 || columns == 0 ? 0 : {
        let (span, spanOverflow) = (rows - 1).multipliedReportingOverflow(by: rowStride)
        let (total, totalOverflow) = span.addingReportingOverflow(columns)
        return spanOverflow || totalOverflow ? nil : total
    }()
    guard let needed, count >= needed else {
        throw FulcrumError.invalidBuffer(
            argument: argument, reason: "holds \(count) elements, a \(rows)x\(columns) matrix with row stride \(rowStride) needs "
                + (needed.map { "\($0)" } ?? "more than Int.max"))
    }
}

/// Throws `shapeMismatch` naming `argument` unless `view` is `rows × columns`. Public so that
/// paper modules validate their inputs with the same messages.
public func checkShape<E>(_ view: MatrixView<E>, rows: Int, columns: Int, argument: String) throws {
    guard view.rows == rows, view.columns == columns else {
        throw FulcrumError.shapeMismatch(argument: argument, expected: shapeDescription(rows, columns), actual: view.shape)
    }
}

/// Throws `shapeMismatch` naming `argument` unless `view` has at least one column, each a `unit`
/// (a feature, a class).
package func checkHasColumns<E>(_ view: MatrixView<E>, argument: String, unit: String) throws {
    guard view.columns >= 1 else {
        throw FulcrumError.shapeMismatch(argument: argument, expected: "at least 1 column (\(unit))", actual: view.shape)
    }
}

/// Throws `shapeMismatch` naming `argument` unless `count == expected`.
public func checkCount(_ count: Int, _ expected: Int, argument: String) throws {
    guard count == expected else {
        throw FulcrumError.shapeMismatch(argument: argument, expected: "\(expected)", actual: "\(count)")
    }
}
