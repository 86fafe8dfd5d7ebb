/// Exact k-nearest-neighbour search on the CPU: the kernel under SMOTE, the samplers of
/// FulcrumImbalance, k-means and cosine candidate retrieval.
///
/// Distances are computed tile by tile (96 × 96 points) with a register-blocked SIMD
/// micro-kernel (6 rows × 16 points per step, the Gram expansion `‖q‖² + ‖b‖² − 2⟨q, b⟩` on
/// centred data); a selection pass then tests each tile against the per-point top-k lists with
/// vector compares, so the `M × N` distance matrix is never stored: extra memory is
/// `O((M + N)·D + (M + N)·k)` plus one tile per thread. A self search computes each
/// unordered pair once and offers it to both points (half the FLOPs of a query-vs-base search).
///
/// Guarantees:
/// - **exact**: the returned distances are recomputed directly in Double from your rows and
///   rounded once to Float (never taken from the expansion, whose cancellation loses digits for
///   near points); candidates are re-ranked on those exact distances;
/// - **ties go to the lower index**, at equal exact distance;
/// - **self by index**: `searchSelf` excludes row `i` from its own list by index only, so exact
///   duplicates of a row are still its neighbours (at distance 0);
/// - **deterministic**: bitwise the same result for any `Threads.count`.
///
/// The one approximation: the k-th/(k+1)-th boundary is decided on Float expansion distances
/// with `k + 2` candidates kept, so two candidates whose distances tie to within Float rounding
/// of the data's range may be exchanged at the boundary.
public enum NearestNeighbors {
    /// The dissimilarity that "nearest" minimises.
    public enum Metric: Sendable, Equatable, CaseIterable {
        /// `Σ (q_c − b_c)²`.
        case squaredEuclidean
        /// `−⟨q, b⟩`: nearest means largest inner product (maximum inner-product search).
        case innerProduct
        /// `1 − ⟨q, b⟩ / (‖q‖·‖b‖)`, in [0, 2]; a zero row has cosine 0 with everything (distance 1).
        case cosine
    }

    /// The `k` nearest rows of `base` to each row of `queries`.
    ///
    /// - Parameters:
    ///   - queries: `M × D`.
    ///   - base: `N × D`.
    ///   - k: `1 ... N`.
    ///   - indices: `M × k` output; row `i` lists base rows nearest first.
    ///   - distances: `M × k` output; the metric's value for each listed pair (exact, see type).
    /// - Complexity: `2·M·N·D` flops, `O((M + N)·D + M·k)` extra memory.
    /// - Throws: `FulcrumError.shapeMismatch` for a `D` that differs or outputs of the wrong shape;
    ///   `invalidParameter` for `k` outside `1 ... N` (naming both), an empty base or more than
    ///   2³¹ − 1 rows; `shapeMismatch` naming `base` for `D = 0`; `nonFiniteValue` naming `queries` or `base` and the first NaN/±∞ found.
    public static func search(
        queries: MatrixView<Float>, base: MatrixView<Float>, k: Int, metric: Metric = .squaredEuclidean,
        indices: MutableMatrixView<Int>, distances: MutableMatrixView<Float>
    ) throws {
        try checkCount(queries.columns, base.columns, argument: "queries columns")
        try validateK(k, available: base.rows, argument: "base")
        try checkHasColumns(base, argument: "base", unit: "feature")  // else every distance is 0: index-order neighbours
        try checkOutputs(rows: queries.rows, k: k, indices: indices, distances: distances)
        try checkFinite(queries, argument: "queries")
        try checkFinite(base, argument: "base")
        guard queries.rows > 0 else { return }
        let transform = PointTransform(metric: metric, base: base, queries: queries)
        let preparedQueries = PreparedPoints(queries, transform: transform, rows: true, panels: false)
        let preparedBase = PreparedPoints(base, transform: transform, rows: false, panels: true)
        let width = min(k + NeighborSearch.slack, base.rows)
        let (lists, _) = NeighborSearch.queryCandidates(preparedQueries, preparedBase, width: width, alpha: transform.alpha, update: .select)
        defer { lists.deallocate() }
        NeighborSearch.finish(lists, rows: queries.rows, k: k, candidates: base,
                              exact: exactDistance(metric, queries, base), indices: indices, distances: distances)
    }

    /// The `k` nearest other rows of `points` to each of its rows (self excluded by index).
    ///
    /// - Parameters:
    ///   - points: `N × D`.
    ///   - k: `1 ... N − 1`.
    ///   - indices, distances: `N × k` outputs, as in `search(queries:base:k:metric:indices:distances:)`.
    /// - Complexity: `N²·D` flops (each unordered pair once), `O(N·(D + k))` extra memory.
    /// - Throws: as `search`, with `k` required to lie in `1 ... N − 1`.
    public static func searchSelf(
        _ points: MatrixView<Float>, k: Int, metric: Metric = .squaredEuclidean,
        indices: MutableMatrixView<Int>, distances: MutableMatrixView<Float>
    ) throws {
        try validateK(k, available: points.rows - 1, argument: "points")
        try checkHasColumns(points, argument: "points", unit: "feature")
        try checkOutputs(rows: points.rows, k: k, indices: indices, distances: distances)
        try checkFinite(points, argument: "points")
        let transform = PointTransform(metric: metric, base: points, queries: nil)
        let prepared = PreparedPoints(points, transform: transform, rows: true, panels: true)
        let width = min(k + NeighborSearch.slack, points.rows - 1)
        let (lists, _) = NeighborSearch.selfCandidates(prepared, width: width, alpha: transform.alpha, update: .select)
        defer { lists.deallocate() }
        NeighborSearch.finish(lists, rows: points.rows, k: k, candidates: points,
                              exact: exactDistance(metric, points, points), indices: indices, distances: distances)
    }

    /// The result of the allocating forms of the search: `rows × k` indices and distances.
    public struct Table: Sendable, Equatable {
        /// Number of query rows.
        public let rows: Int
        /// Neighbours per row.
        public let k: Int
        /// Row-major `rows × k`: row `i`'s neighbours, nearest first.
        public var indices: [Int]
        /// Row-major `rows × k`: the matching exact distances.
        public var distances: [Float]

        /// Row `i`'s neighbour indices, nearest first.
        public func neighbors(of i: Int) -> ArraySlice<Int> { indices[i * k ..< (i + 1) * k] }

        /// Row `i`'s neighbour distances, nearest first.
        public func distances(of i: Int) -> ArraySlice<Float> { distances[i * k ..< (i + 1) * k] }

        init(rows: Int, k: Int, fill: (MutableMatrixView<Int>, MutableMatrixView<Float>) throws -> Void) rethrows {
            self.rows = rows
            self.k = k
            var indices = [Int](repeating: 0, count: rows * k)
            var distances = [Float](repeating: 0, count: rows * k)
            try indices.withUnsafeMutableBufferPointer { i in
                try distances.withUnsafeMutableBufferPointer { d in
                    try fill(MutableMatrixView(unchecked: i.baseAddress, rows: rows, columns: k, rowStride: k),
                             MutableMatrixView(unchecked: d.baseAddress, rows: rows, columns: k, rowStride: k))
                }
            }
            self.indices = indices
            self.distances = distances
        }
    }

    /// Allocating form of `search(queries:base:k:metric:indices:distances:)`.
    public static func search(queries: MatrixView<Float>, base: MatrixView<Float>, k: Int, metric: Metric = .squaredEuclidean) throws -> Table {
        try validateK(k, available: base.rows, argument: "base")
        return try Table(rows: queries.rows, k: k) {
            try search(queries: queries, base: base, k: k, metric: metric, indices: $0, distances: $1)
        }
    }

    /// Allocating form of `searchSelf(_:k:metric:indices:distances:)`.
    public static func searchSelf(_ points: MatrixView<Float>, k: Int, metric: Metric = .squaredEuclidean) throws -> Table {
        try validateK(k, available: points.rows - 1, argument: "points")
        return try Table(rows: points.rows, k: k) {
            try searchSelf(points, k: k, metric: metric, indices: $0, distances: $1)
        }
    }

    /// The nearest centre of each point (1-nearest-neighbour assignment, as in a k-means step).
    ///
    /// - Returns: `labels[i]` in `0..<centres.rows` (ties to the lower centre index) and the
    ///   exact distance to it.
    /// - Throws: as `search` with `k = 1`.
    public static func assignNearest(
        points: MatrixView<Float>, centres: MatrixView<Float>, metric: Metric = .squaredEuclidean
    ) throws -> (labels: [Int], distances: [Float]) {
        let table = try search(queries: points, base: centres, k: 1, metric: metric)
        return (table.indices, table.distances)
    }
}

extension NearestNeighbors {
    static func validateK(_ k: Int, available: Int, argument: String) throws {
        guard available >= 1 else {
            throw FulcrumError.invalidParameter(
                argument: "k", value: "\(k)",
                requirement: "at most the number of candidate rows, but \(argument) has no candidate row (\(max(0, available)))")
        }
        guard k >= 1, k <= available else {
            throw FulcrumError.invalidParameter(argument: "k", value: "\(k)", requirement: "in 1...\(available) (the candidate rows of \(argument))")
        }
        guard available < Int(Int32.max) else {
            throw FulcrumError.invalidParameter(argument: argument, value: "\(available) rows", requirement: "fewer than 2^31 - 1 rows")
        }
    }

    static func checkOutputs(rows: Int, k: Int, indices: MutableMatrixView<Int>, distances: MutableMatrixView<Float>) throws {
        guard indices.rows == rows, indices.columns == k else {
            throw FulcrumError.shapeMismatch(argument: "indices", expected: shapeDescription(rows, k), actual: indices.shape)
        }
        guard distances.rows == rows, distances.columns == k else {
            throw FulcrumError.shapeMismatch(argument: "distances", expected: shapeDescription(rows, k), actual: distances.shape)
        }
    }

    /// Exact distance between row `i` of `a` and row `j` of `b` in Double.
    static func exactDistance(_ metric: Metric, _ a: MatrixView<Float>, _ b: MatrixView<Float>) -> @Sendable (Int, Int) -> Double {
        { i, j in
            let (x, y, d) = (a.row(i), b.row(j), a.columns)
            switch metric {
            case .squaredEuclidean:
                // Four independent partial sums (the chain of one would be latency-bound).
                var s = SIMD4<Double>()
                var c = 0
                while c + 4 <= d {
                    let t = SIMD4(Double(x[c]) - Double(y[c]), Double(x[c + 1]) - Double(y[c + 1]),
                                  Double(x[c + 2]) - Double(y[c + 2]), Double(x[c + 3]) - Double(y[c + 3]))
                    s += t * t
                    c += 4
                }
                var tail = 0.0
                while c < d { let t = Double(x[c]) - Double(y[c]); tail += t * t; c += 1 }
                return ((s[0] + s[1]) + (s[2] + s[3])) + tail
            case .innerProduct:
                var sum = 0.0
                for c in 0..<d { sum += Double(x[c]) * Double(y[c]) }
                return -sum
            case .cosine:
                var (dot, xx, yy) = (0.0, 0.0, 0.0)
                for c in 0..<d {
                    let (u, v) = (Double(x[c]), Double(y[c]))
                    dot += u * v; xx += u * u; yy += v * v
                }
                return xx > 0 && yy > 0 ? 1 - dot / (xx.squareRoot() * yy.squareRoot()) : 1
            }
        }
    }
}

/// Throws `nonFiniteValue` naming `argument` at the first NaN or ±∞ of `view`.
func checkFinite(_ view: MatrixView<Float>, argument: String) throws {
    if let (row, column) = view.firstNonFinite() {
        throw FulcrumError.nonFiniteValue(argument: argument, row: row, column: column)
    }
}

extension MatrixView where Element == Float {
    /// The first element (row-major order) that is NaN or ±∞, or nil when all are finite.
    ///
    /// Scans eight Floats at a time (`x · 0` is 0 for finite `x` and NaN otherwise, summed into
    /// four independent flags) over blocks of 64 rows and locates the element only in a block
    /// that fails. Cost: one pass, in parallel over fixed chunks of rows (the first failing chunk
    /// wins, whatever the thread count).
    public func firstNonFinite() -> (row: Int, column: Int)? {
        let chunk = 4096
        let chunks = (rows + chunk - 1) / chunk
        guard chunks > 1 else { return firstNonFinite(inRows: 0..<rows) }
        let found = UncheckedSendable(UnsafeMutablePointer<(row: Int, column: Int)?>.allocate(capacity: chunks))
        found.value.initialize(repeating: nil, count: chunks)
        defer { found.value.deallocate() }
        Threads.forEachBlock(count: rows, blockSize: chunk) { b, range in found.value[b] = firstNonFinite(inRows: range) }
        for b in 0..<chunks { if let position = found.value[b] { return position } }
        return nil
    }

    /// `firstNonFinite()` restricted to `range` rows, on the calling thread.
    package func firstNonFinite(inRows range: Range<Int>) -> (row: Int, column: Int)? {
        typealias V = SIMD8<Float>
        for start in stride(from: range.lowerBound, to: range.upperBound, by: 64) {
            let end = Swift.min(range.upperBound, start + 64)
            // Four flags, so that the adds are four independent chains rather than one.
            var (flag0, flag1, flag2, flag3) = (V(), V(), V(), V())
            var tail: Float = 0
            for i in start..<end {
                let r = UnsafeRawPointer(row(i))
                var c = 0
                while c + 32 <= columns {
                    flag0 += r.loadUnaligned(fromByteOffset: c * 4, as: V.self) * V()
                    flag1 += r.loadUnaligned(fromByteOffset: c * 4 + 32, as: V.self) * V()
                    flag2 += r.loadUnaligned(fromByteOffset: c * 4 + 64, as: V.self) * V()
                    flag3 += r.loadUnaligned(fromByteOffset: c * 4 + 96, as: V.self) * V()
                    c += 32
                }
                while c + 8 <= columns {
                    flag0 += r.loadUnaligned(fromByteOffset: c * 4, as: V.self) * V()
                    c += 8
                }
                while c < columns { tail += r.load(fromByteOffset: c * 4, as: Float.self) * 0; c += 1 }
            }
            let flag = (flag0 + flag1) + (flag2 + flag3)
            let folded = flag.lowHalf + flag.highHalf
            guard tail.isNaN || (folded[0] + folded[1] + folded[2] + folded[3]).isNaN else { continue }
            for i in start..<end {
                let r = row(i)
                for c in 0..<columns where !r[c].isFinite { return (i, c) }
            }
        }
        return nil
    }
}

extension NearestNeighbors {
    /// The distance work of `searchSelf` alone: the same tiles and micro-kernel with the top-k
    /// test replaced by a sum. The benchmark times it to report the fraction of time spent in
    /// top-k selection; it returns the (order-dependent) sum so that the work is not elided.
    @_spi(Benchmarking)
    public static func _selfDistanceTilesOnly(_ points: MatrixView<Float>, metric: Metric = .squaredEuclidean) -> Float {
        let transform = PointTransform(metric: metric, base: points, queries: nil)
        let prepared = PreparedPoints(points, transform: transform, rows: true, panels: true)
        let (lists, sink) = NeighborSearch.selfCandidates(prepared, width: 1, alpha: transform.alpha, update: .distanceOnly)
        lists.deallocate()
        return sink
    }
}
