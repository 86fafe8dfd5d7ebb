import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The tiled drivers of the kNN kernel: they walk the micro-kernel over cache-sized tiles in
/// parallel and turn the candidate lists into the exact, tie-broken answer.
enum NeighborSearch {
    /// Rows and columns per tile (a multiple of `PreparedPoints.padding`): 96 prepared rows of up
    /// to 128 Floats stay in L2 while a 16-point panel streams through L1.
    static let tileRows = 96

    /// Extra candidates kept per list beyond `k`: the approximate Gram-expansion distances may
    /// swap near-ties, so `k + slack` candidates are re-ranked on exactly recomputed distances.
    static let slack = 2

    /// The most blocks of tiles the self search schedules.
    static let maximumScheduleBlocks = 32

    /// Bytes of prepared points a block may hold and still stay in L2 while another block's
    /// tiles stream past it.
    static let blockCacheBytes = 256 << 10

    /// Blocks of tiles for a self search over `points`: four per worker, so that the block pairs
    /// (about eight per worker) balance the load when one worker runs slower than another (a
    /// shared host's cores do); more when a block's points would not stay in L2
    /// (`blockCacheBytes`); at most `maximumScheduleBlocks` and one per tile. The result does not
    /// depend on it.
    static func scheduleBlocks(_ points: borrowing PreparedPoints, tiles: Int) -> Int {
        let bytes = points.paddedCount * points.depth * MemoryLayout<Float>.stride
        let cacheBlocks = (bytes + blockCacheBytes - 1) / blockCacheBytes
        return max(1, min(tiles, maximumScheduleBlocks, max(4 * Threads.count, cacheBlocks)))
    }

    /// Self search: every unordered pair is computed once, in tile (min tile, max tile), and
    /// offered to both points. The tiles are grouped into `scheduleBlocks` blocks of consecutive
    /// tiles, and each worker claims block pairs one at a time from a `BlockPairClaims`, which
    /// hands out only pairs whose two blocks no other worker holds: the lists a pair writes
    /// (its two blocks' points) are never written by two workers at once, and no worker waits
    /// at a barrier for a slower one.
    ///
    /// Each pair's distance is computed by the same arithmetic whichever tile holds it (the
    /// micro-kernel's sums are symmetric in the two points), and each list keeps the best
    /// candidates under a total order, which does not depend on the order they arrive in: the
    /// result is the same for any thread count and schedule.
    static func selfCandidates(_ points: borrowing PreparedPoints, width: Int, alpha: Float, update: TileUpdate) -> (lists: NeighborLists, sink: Float) {
        let tiles = (points.paddedCount + tileRows - 1) / tileRows
        let blocks = scheduleBlocks(points, tiles: tiles)
        let lists = NeighborLists(count: points.paddedCount, used: points.count, width: width)
        let (rows, panels, norms) = (UncheckedSendable(points.rows!), UncheckedSendable(points.panels!), UncheckedSendable(points.norms))
        let (depth, padded) = (points.depth, points.paddedCount)
        let claims = BlockPairClaims(blocks: blocks)
        let sinks = UncheckedSendable(UnsafeMutablePointer<Float>.allocate(capacity: max(1, blocks)))
        sinks.value.initialize(repeating: 0, count: max(1, blocks))
        defer { sinks.value.deallocate() }
        /// The tiles of block `b`: consecutive, sizes differing by at most one.
        func tileRange(_ b: Int) -> Range<Int> { b * tiles / blocks ..< (b + 1) * tiles / blocks }
        Threads.forEachBlock(count: Threads.count, blockSize: 1) { _, _ in
            DistanceTile.with { tile in
                while let (block, columnBlock) = claims.claim() {
                    var sink: Float = 0
                    for rowTile in tileRange(block) {
                        for columnTile in tileRange(columnBlock) where columnTile >= rowTile {
                            let rowRange = rowTile * tileRows ..< min(padded, (rowTile + 1) * tileRows)
                            let columnRange = columnTile * tileRows ..< min(padded, (columnTile + 1) * tileRows)
                            let diagonal = columnTile == rowTile
                            sink += tile.compute(rows: rows.value, rowNorms: norms.value, rowRange: rowRange,
                                                 panels: panels.value, columnNorms: norms.value, columnRange: columnRange, depth: depth, alpha: alpha,
                                                 offers: update == .select ? TileOffers(lists: lists, toColumns: !diagonal, diagonal: diagonal) : nil)
                        }
                    }
                    sinks.value[block] += sink  // the claimed pair holds `block`
                    claims.release(block, columnBlock)
                }
            }
        }
        var total: Float = 0
        for b in 0..<blocks { total += sinks.value[b] }
        return (lists, total)
    }

    /// Query-vs-base search: each tile of queries owns its rows' lists and sweeps every panel.
    static func queryCandidates(
        _ queries: borrowing PreparedPoints, _ base: borrowing PreparedPoints, width: Int, alpha: Float, update: TileUpdate
    ) -> (lists: NeighborLists, sink: Float) {
        let lists = NeighborLists(count: queries.paddedCount, used: queries.count, width: width)
        let blocks = (queries.paddedCount + tileRows - 1) / tileRows
        let sinks = UncheckedSendable(UnsafeMutablePointer<Float>.allocate(capacity: blocks))
        defer { sinks.value.deallocate() }
        let (rows, rowNorms) = (UncheckedSendable(queries.rows!), UncheckedSendable(queries.norms))
        let (panels, columnNorms) = (UncheckedSendable(base.panels!), UncheckedSendable(base.norms))
        let (depth, padded, basePadded) = (queries.depth, queries.paddedCount, base.paddedCount)
        Threads.forEachBlock(count: blocks, blockSize: 1) { block, _ in
            var sink: Float = 0
            let rowRange = block * tileRows ..< min(padded, (block + 1) * tileRows)
            DistanceTile.with { tile in
                for firstColumn in stride(from: 0, to: basePadded, by: tileRows) {
                    sink += tile.compute(rows: rows.value, rowNorms: rowNorms.value, rowRange: rowRange,
                                         panels: panels.value, columnNorms: columnNorms.value,
                                         columnRange: firstColumn ..< min(basePadded, firstColumn + tileRows), depth: depth, alpha: alpha,
                                         offers: update == .select ? TileOffers(lists: lists, toColumns: false, diagonal: false) : nil)
                }
            }
            sinks.value[block] = sink
        }
        var total: Float = 0
        for b in 0..<blocks { total += sinks.value[b] }
        return (lists, total)
    }

    /// Rows ahead whose candidates `finish` prefetches: a list's candidates lie anywhere in the
    /// caller's rows, so their loads would otherwise stall the exact distances.
    static let finishLead = 4

    /// Recomputes the distances of each row's `width` candidates exactly in Double from the
    /// caller's rows and writes the `k` best under (exact distance, index); `candidates` are the
    /// rows the lists' indices refer to.
    static func finish(
        _ lists: NeighborLists, rows: Int, k: Int, candidates: MatrixView<Float>,
        exact: @escaping @Sendable (_ row: Int, _ neighbor: Int) -> Double,
        indices: MutableMatrixView<Int>, distances: MutableMatrixView<Float>
    ) {
        let (width, stride) = (lists.width, lists.stride)
        Threads.forEachBlock(count: rows, blockSize: 256) { _, range in
            withUnsafeTemporaryAllocation(of: (distance: Double, index: Int).self, capacity: width) { ranked in
                for i in range {
                    if case let ahead = i + finishLead, ahead < range.upperBound {
                        for e in 0..<width {
                            let j = lists.indices[ahead * stride + e]
                            if j != .max { candidates.row(Int(j)).prefetch(first: candidates.columns) }
                        }
                    }
                    // All exact distances first (independent, so their row loads overlap), then an
                    // insertion sort under (exact distance, index) in the same fixed buffer.
                    var count = 0
                    while count < width, case let j = lists.indices[i * stride + count], j != .max {
                        ranked[count] = (exact(i, Int(j)), Int(j))
                        count += 1
                    }
                    for e in 1 ..< max(1, count) {
                        let candidate = ranked[e]
                        var p = e
                        while p > 0, candidate.distance < ranked[p - 1].distance
                            || (candidate.distance == ranked[p - 1].distance && candidate.index < ranked[p - 1].index) {
                            ranked[p] = ranked[p - 1]
                            p -= 1
                        }
                        ranked[p] = candidate
                    }
                    for e in 0..<min(count, k) {
                        indices[i, e] = ranked[e].index
                        distances[i, e] = Float(ranked[e].distance)
                    }
                }
            }
        }
    }
}

/// The block pairs `(b, c)`, `b ≤ c < blocks`, of a self search, handed out to workers so that
/// no two workers hold a block at the same time (a block is held while a pair containing it is
/// computed). `claim()` returns the first remaining pair, in a fixed order, whose blocks are
/// both free, and waits while every remaining pair touches a held block; it returns nil once
/// every pair has been claimed. The lock's release and acquire order each pair's list writes
/// before the next worker's reads of the same lists.
final class BlockPairClaims: Sendable {
    private struct State {
        var remaining: [(Int, Int)]
        var held: [Bool]
    }
    private let state: Mutex<State>

    init(blocks: Int) {
        // Diagonal pairs first, then by distance from the diagonal: early pairs touch distinct
        // blocks, so the workers start without contention.
        var pairs: [(Int, Int)] = []
        for offset in 0..<blocks { for b in 0 ..< blocks - offset { pairs.append((b, b + offset)) } }
        state = Mutex(State(remaining: pairs, held: Array(repeating: false, count: blocks)))
    }

    /// The next pair whose blocks are both free, now held; nil when none remain.
    func claim() -> (Int, Int)? {
        while true {
            let outcome: (pair: (Int, Int)?, done: Bool) = state.withLock { state in
                guard !state.remaining.isEmpty else { return (nil, true) }
                guard let i = state.remaining.firstIndex(where: { !state.held[$0.0] && !state.held[$0.1] }) else { return (nil, false) }
                let pair = state.remaining.remove(at: i)
                state.held[pair.0] = true
                state.held[pair.1] = true
                return (pair, false)
            }
            if let pair = outcome.pair { return pair }
            if outcome.done { return nil }
            sched_yield()
        }
    }

    /// Frees the blocks of a claimed pair.
    func release(_ b: Int, _ c: Int) {
        state.withLock { state in
            state.held[b] = false
            state.held[c] = false
        }
    }
}
