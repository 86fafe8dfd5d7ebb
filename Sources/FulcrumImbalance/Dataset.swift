import FulcrumKernels

/// Validated input of a sampler: the features, the labels and the rows of each class.
struct Dataset {
    let features: MatrixView<Float>
    let labels: [Int]
    /// Ascending class labels.
    let classes: [Int]
    /// Row indices of each class, ascending, in `classes` order.
    let members: [[Int]]
    /// Whether every feature was checked finite at creation. Otherwise the rows are checked
    /// where they are next read in full: the neighbour searches check the rows they gather, and
    /// `appending` checks the original rows as it copies them (one pass over the features
    /// instead of two).
    let featuresChecked: Bool

    var rows: Int { features.rows }
    var columns: Int { features.columns }

    /// Checks labels length, at least one feature, finiteness (unless `checkingFinite` is false,
    /// see `featuresChecked`), at least two classes.
    ///
    /// - Throws: `shapeMismatch` naming `labels`, or `features` without a column (as
    ///   imbalanced-learn, which requires one feature); `nonFiniteValue` naming `features`;
    ///   `invalidParameter` naming `labels` when fewer than two classes are present.
    init(features: MatrixView<Float>, labels: [Int], minimumClasses: Int = 2, checkingFinite: Bool = true) throws {
        guard labels.count == features.rows else {
            throw FulcrumError.shapeMismatch(argument: "labels", expected: "\(features.rows)", actual: "\(labels.count)")
        }
        try checkHasColumns(features, argument: "features", unit: "feature")
        if checkingFinite { try Self.checkFinite(features) }
        featuresChecked = checkingFinite
        let (classes, members) = groupByClass(labels)
        self.classes = classes
        guard classes.count >= minimumClasses else {
            throw FulcrumError.invalidParameter(
                argument: "labels", value: "\(classes.count) class\(classes.count == 1 ? "" : "es")",
                requirement: "at least \(minimumClasses) classes to resample")
        }
        self.members = members
        self.features = features
        self.labels = labels
    }

    /// `(label, size)` of every class.
    var classCounts: [(label: Int, count: Int)] { zip(classes, members).map { ($0, $1.count) } }

    /// Rows of class `label`.
    func rows(of label: Int) -> [Int] { members[classes.firstIndex(of: label)!] }

    /// The smallest class (ties to the lower label).
    var minorityClass: Int { classCounts.min { $0.count < $1.count || ($0.count == $1.count && $0.label < $1.label) }!.label }

    /// Throws unless `k` neighbours (self excluded) exist in class `label`.
    func requireNeighbors(_ k: Int, in label: Int, argument: String) throws {
        let size = rows(of: label).count
        guard k >= 1 else { throw FulcrumError.invalidParameter(argument: argument, value: "\(k)", requirement: ">= 1") }
        guard k < size else {
            throw FulcrumError.invalidParameter(
                argument: argument, value: "\(k)",
                requirement: "smaller than the size of class \(label), which has \(size) sample\(size == 1 ? "" : "s") (a sample is not its own neighbour)")
        }
    }

    /// Throws `nonFiniteValue` naming `features` at the first NaN or ±∞ in row-major order.
    private static func checkFinite(_ features: MatrixView<Float>) throws {
        if let (row, column) = features.firstNonFinite() {
            throw FulcrumError.nonFiniteValue(argument: "features", row: row, column: column)
        }
    }

    /// For a dataset not checked at creation: throws the first non-finite feature of the whole
    /// matrix (row-major) when the gathered rows `data` (`count` rows) hold one.
    private func checkGathered(_ data: [Float], count: Int) throws {
        guard !featuresChecked else { return }
        let found = data.withUnsafeBufferPointer {
            MatrixView(unchecked: $0.baseAddress, rows: count, columns: columns, rowStride: columns).firstNonFinite()
        }
        if found != nil { try Self.checkFinite(features) }
    }

    /// Copies rows `subset` into a contiguous matrix.
    func gather(_ subset: [Int]) -> [Float] {
        let d = columns
        return [Float](unsafeUninitializedCapacity: subset.count * d) { buffer, count in
            adviseHugePages(UnsafeMutableRawBufferPointer(buffer))
            for (r, i) in subset.enumerated() {
                (buffer.baseAddress! + r * d).initialize(from: features.row(i), count: d)
            }
            count = subset.count * d
        }
    }

    /// The `k` nearest neighbours of each row of `subset` among `subset` itself (self excluded
    /// by index), as rows of the dataset: `result[p]` belongs to `subset[p]`.
    func neighborsWithin(_ subset: [Int], k: Int) throws -> [[Int]] {
        let partners = try flatNeighbors(within: subset, k: k)
        return (0..<subset.count).map { p in Array(partners[p * k ..< (p + 1) * k]) }
    }

    /// `neighborsWithin` as one flat pair table: pair `p·k + e` is `subset[p]` and its `e`-th
    /// nearest neighbour.
    func neighborPairs(within subset: [Int], k: Int) throws -> NeighborPairs {
        NeighborPairs(seeds: subset.flatMap { repeatElement($0, count: k) }, partners: try flatNeighbors(within: subset, k: k))
    }

    /// Row-major `subset.count × k`: the neighbours of `subset[p]` at `p·k ..< (p + 1)·k`, as
    /// rows of the dataset.
    private func flatNeighbors(within subset: [Int], k: Int) throws -> [Int] {
        let data = gather(subset)
        try checkGathered(data, count: subset.count)
        let table = try data.withUnsafeBufferPointer {
            try NearestNeighbors.searchSelf(MatrixView(unchecked: $0.baseAddress, rows: subset.count, columns: columns, rowStride: columns), k: k)
        }
        return table.indices.map { subset[$0] }
    }

    /// The `k` nearest rows of `base` to each row of `queries` (a query that is also in `base`
    /// is excluded by index when `excludeSelf`), as rows of the dataset, with squared distances.
    func neighbors(of queries: [Int], among base: [Int], k: Int, excludeSelf: Bool) throws -> (indices: [[Int]], distances: [[Float]]) {
        let q = gather(queries), b = gather(base)
        try checkGathered(q, count: queries.count)
        try checkGathered(b, count: base.count)
        let d = columns
        let extra = excludeSelf ? 1 : 0
        let table = try q.withUnsafeBufferPointer { qp in
            try b.withUnsafeBufferPointer { bp in
                try NearestNeighbors.search(
                    queries: MatrixView(unchecked: qp.baseAddress, rows: queries.count, columns: d, rowStride: d),
                    base: MatrixView(unchecked: bp.baseAddress, rows: base.count, columns: d, rowStride: d),
                    k: min(k + extra, base.count))
            }
        }
        var indices: [[Int]] = [], distances: [[Float]] = []
        for (p, row) in queries.enumerated() {
            var found: [Int] = [], found2: [Float] = []
            for (j, dist) in zip(table.neighbors(of: p), table.distances(of: p)) where !(excludeSelf && base[j] == row) && found.count < k {
                found.append(base[j])
                found2.append(dist)
            }
            indices.append(found)
            distances.append(found2)
        }
        return (indices, distances)
    }

    /// The `k` nearest neighbours of every row among all rows (self excluded by index).
    func neighborsOfAll(k: Int) throws -> [[Int]] {
        try neighborsWithin(Array(0..<rows), k: k)
    }

    /// Rows per block of the parallel copy of the original rows: about 128 KiB (at least 16
    /// rows), so that a block's copy is still in L2 when it is checked.
    var copyBlockRows: Int { max(16, (128 << 10) / (columns * MemoryLayout<Float>.stride)) }

    /// Original rows then `extra` more rows written by `fill` (given the address of the first
    /// extra row), with their labels, in one allocation; the original rows are copied in
    /// parallel blocks (the first touch of a large fresh buffer is itself a cost worth sharing),
    /// and each block's copy is checked finite when the dataset was not (`featuresChecked`).
    ///
    /// - Throws: `nonFiniteValue` naming `features` (first in row-major order), only for a
    ///   dataset not checked at creation; `fill` is not called then.
    func appending(rows extra: Int, labels extraLabels: [Int], fill: (UnsafeMutablePointer<Float>) -> Void) throws -> Resampled {
        let (n, d) = (rows, columns)
        let blockRows = copyBlockRows, blocks = (n + blockRows - 1) / blockRows
        var firstNonFinite: (row: Int, column: Int)?
        let features = [Float](unsafeUninitializedCapacity: (n + extra) * d) { buffer, count in
            let base = buffer.baseAddress!
            adviseHugePages(UnsafeMutableRawBufferPointer(buffer))
            let out = UncheckedSendableBox(base), source = self.features, check = !featuresChecked
            let found = UncheckedSendableBox(UnsafeMutablePointer<(row: Int, column: Int)?>.allocate(capacity: max(1, blocks)))
            found.value.initialize(repeating: nil, count: max(1, blocks))
            defer { found.value.deallocate() }
            Threads.forEachBlock(count: n, blockSize: blockRows) { b, range in
                guard let first = range.first else { return }
                if source.rowStride == d {
                    // Unpadded rows: the block is one contiguous run.
                    (out.value + first * d).initialize(from: source.row(first), count: range.count * d)
                } else {
                    for i in range { (out.value + i * d).initialize(from: source.row(i), count: d) }
                }
                if check {
                    let copied = MatrixView(unchecked: UnsafePointer(out.value), rows: n, columns: d, rowStride: d)
                    found.value[b] = copied.firstNonFinite(inRows: range)
                }
            }
            firstNonFinite = (0..<blocks).lazy.compactMap { found.value[$0] }.first
            if firstNonFinite == nil { fill(base + n * d) }
            count = firstNonFinite == nil ? (n + extra) * d : n * d
        }
        if let (row, column) = firstNonFinite { throw FulcrumError.nonFiniteValue(argument: "features", row: row, column: column) }
        return Resampled(features: features, labels: labels + extraLabels, columns: d, sampleIndices: nil)
    }

    /// Original rows then the planned synthetic rows.
    func appending(_ plan: InterpolationPlan) throws -> Resampled {
        try appending(rows: plan.count, labels: plan.labels) { plan.write(from: features, into: $0) }
    }

    /// Original rows then `synthetic` (row-major).
    func appending(_ synthetic: [Float], labels syntheticLabels: [Int]) throws -> Resampled {
        try appending(rows: syntheticLabels.count, labels: syntheticLabels) { target in
            synthetic.withUnsafeBufferPointer { if let s = $0.baseAddress { target.initialize(from: s, count: $0.count) } }
        }
    }

    /// The rows `kept` (any order, no duplicates unless sampling with replacement), in ascending order.
    func keeping(_ kept: [Int]) -> Resampled {
        let sorted = kept.sorted()
        return Resampled(features: gather(sorted), labels: sorted.map { labels[$0] }, columns: columns, sampleIndices: sorted)
    }
}

/// Ascending class labels and the ascending rows of each. Labels in a compact range (the usual
/// `0..<C`) are bucketed by a counting sort (one pass to count, one to place each row at its
/// class's cursor in one flat buffer, then one copy per class), others (including labels whose
/// spread overflows Int) through a dictionary.
func groupByClass(_ labels: [Int]) -> (classes: [Int], members: [[Int]]) {
    guard let low = labels.min(), let high = labels.max() else { return ([], []) }
    let (spread, overflow) = high.subtractingReportingOverflow(low)
    if !overflow, spread < 1 << 16 {
        var cursor = [Int](repeating: 0, count: spread + 1)
        var classes: [Int] = [], starts: [Int] = [0]
        let order = labels.withUnsafeBufferPointer { labels in
            cursor.withUnsafeMutableBufferPointer { cursor in
                for label in labels { cursor[label - low] += 1 }
                var next = 0
                for offset in cursor.indices where cursor[offset] > 0 {
                    classes.append(low + offset)
                    (cursor[offset], next) = (next, next + cursor[offset])
                    starts.append(next)
                }
                return [Int](unsafeUninitializedCapacity: labels.count) { order, filled in
                    for (i, label) in labels.enumerated() {
                        order[cursor[label - low]] = i
                        cursor[label - low] += 1
                    }
                    filled = labels.count
                }
            }
        }
        return (classes, (0..<classes.count).map { Array(order[starts[$0] ..< starts[$0 + 1]]) })
    }
    var byClass: [Int: [Int]] = [:]
    for (i, label) in labels.enumerated() { byClass[label, default: []].append(i) }
    let classes = byClass.keys.sorted()
    return (classes, classes.map { byClass[$0]! })
}
