import FulcrumKernels

/// A per-block partial result that blocks add in order.
protocol BlockSummable {
    init()
    /// Adds the sums of a later block.
    mutating func add(_ other: Self)
}

/// Runs `body(rows, scratch)` over fixed blocks of rows (about 16K elements each, whatever the
/// thread count) on `Threads.forEachBlock`, each block with its own scratch row of `classes`
/// elements, and adds the blocks' results in block order: bitwise the same for any thread count.
func blockSums<T: FulcrumFloat, S: BlockSummable>(
    rows: Int, classes: Int, as _: T.Type = T.self, _ body: (Range<Int>, UnsafeMutablePointer<T>) -> S
) -> S {
    guard rows > 0 else { return S() }
    let rowsPerBlock = max(1, 16_384 / max(1, classes))
    let blocks = (rows + rowsPerBlock - 1) / rowsPerBlock
    let slots = UnsafeMutableBufferPointer<S>.allocate(capacity: blocks)
    slots.initialize(repeating: S())
    defer { slots.deinitialize(); slots.deallocate() }
    Threads.forEachBlock(count: rows, blockSize: rowsPerBlock) { block, range in
        let scratch = UnsafeMutablePointer<T>.allocate(capacity: max(1, classes))
        defer { scratch.deallocate() }
        slots[block] = body(range, scratch)
    }
    var total = S()
    for s in slots { total.add(s) }
    return total
}

extension Double: BlockSummable {
    mutating func add(_ other: Double) { self += other }
}

/// A loss sum and the first row holding a non-finite input.
struct LossSums: BlockSummable {
    var loss = 0.0
    var firstNonFinite: Int?

    mutating func add(_ other: LossSums) {
        loss += other.loss
        if firstNonFinite == nil { firstNonFinite = other.firstNonFinite }
    }
}

/// Calls `body` with the array's base address, or nil for a nil array.
func withOptionalPointer<E, R>(_ array: [E]?, _ body: (UnsafePointer<E>?) throws -> R) rethrows -> R {
    guard let array else { return try body(nil) }
    return try array.withUnsafeBufferPointer { try body($0.baseAddress) }
}
