import FulcrumKernels

/// A per-block partial result that blocks add in order.
protocol BlockSummable {
    init()
    /// Adds the sums of a later block.
    mutating func add(_ other: Self)
}

/// Runs `body(rows)` over fixed blocks of rows (about 16K elements each, whatever the thread
/// count) on `Threads.forEachBlock`, and adds the blocks' results in block order: bitwise the
/// same for any thread count.
func blockSums<S: BlockSummable>(rows: Int, classes: Int, _ body: (Range<Int>) -> S) -> S {
    guard rows > 0 else { return S() }
    let rowsPerBlock = max(1, 16_384 / max(1, classes))
    let blocks = (rows + rowsPerBlock - 1) / rowsPerBlock
    let slots = UnsafeMutableBufferPointer<S>.allocate(capacity: blocks)
    slots.initialize(repeating: S())
    defer { slots.deinitialize(); slots.deallocate() }
    Threads.forEachBlock(count: rows, blockSize: rowsPerBlock) { block, range in
        slots[block] = body(range)
    }
    var total = S()
    for s in slots { total.add(s) }
    return total
}

/// `blockSums` whose blocks also get scratch memory for one row (`RowScratch`), taken from a
/// pool of one set per running worker: no allocation per block or per row.
func blockSums<T: FulcrumFloat, S: BlockSummable>(
    rows: Int, classes: Int, scratchOf _: T.Type, _ body: (Range<Int>, RowScratch<T>) -> S
) -> S {
    let pool = ScratchPool<T>(classes: classes)
    defer { pool.deallocate() }
    return blockSums(rows: rows, classes: classes) { range in
        let scratch = pool.take()
        defer { pool.give(scratch) }
        return body(range, scratch)
    }
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
