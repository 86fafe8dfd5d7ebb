// Loops over one row in SIMD vectors, shared by every row kernel.

/// Runs `body(j, count)` over `a ..< b` in vectors (`count == vectorWidth`) and one partial tail.
@inlinable @inline(__always)
public func forEachVector<T: FulcrumFloat>(_: T.Type, from a: Int, to b: Int, _ body: (Int, Int) -> Void) {
    let width = T.vectorWidth
    var j = a
    // Wrapping arithmetic: indices stay far below Int.max (they index memory), and the overflow
    // checks would add a test and a branch to every vector.
    while j &+ width <= b {
        body(j, width)
        j &+= width
    }
    if j < b { body(j, b &- j) }
}

/// Rewrites `row[a ..< b]` in place, one vector at a time: `transform(v, j, count)` gets the
/// vector at `row[j]` (`count` lanes of the row, the rest 0; `count < vectorWidth` only in the
/// tail) and returns its new value. The loop is written out rather than built on
/// `forEachVector`: a `forEachVector` body that loaded and stored through the same pointer inside
/// a `Threads.forEachBlock` closure was compiled as a call per vector, not inlined.
@inlinable @inline(__always)
public func updateVectors<T: FulcrumFloat>(
    _ row: UnsafeMutablePointer<T>, from a: Int, to b: Int, _ transform: (T.Vector, _ j: Int, _ count: Int) -> T.Vector
) {
    let width = T.vectorWidth
    var j = a
    while j &+ width <= b {
        row.storeVector(transform(UnsafePointer(row).loadVector(at: j), j, width), at: j)
        j &+= width
    }
    if j < b { row.storeVector(transform(UnsafePointer(row).loadVector(at: j, count: b &- j), j, b &- j), at: j, count: b &- j) }
}

/// Σ of `term(j, count)` over `a ..< b`: vector partial sums in T per 512-element chunk, chunks
/// added in Double, so the rounding error stays that of a sum of 512 / vectorWidth terms per lane
/// (32 for Float, 128 for Double).
@inlinable @inline(__always)
public func chunkedSum<T: FulcrumFloat>(_: T.Type, from a: Int, to b: Int, _ term: (Int, Int) -> T.Vector) -> Double {
    var total = 0.0
    var start = a
    while start < b {
        let end = min(b, start &+ 512)
        var partial = T.Vector()
        forEachVector(T.self, from: start, to: end) { j, count in partial += term(j, count) }
        total += Double(T.sumOfLanes(partial))
        start = end
    }
    return total
}
