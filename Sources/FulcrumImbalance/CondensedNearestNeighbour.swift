import FulcrumKernels

/// Condensed nearest neighbour ("The Condensed Nearest Neighbor Rule", Hart): keeps, of each
/// resampled class, a subset that classifies the class correctly with a `nNeighbors`-NN rule.
///
/// For each resampled class: the store `C` starts as every minority sample plus one random
/// sample of the class; the class's samples are visited once in row order, and each that the
/// `nNeighbors`-NN rule on `C` misclassifies (majority vote, ties to the smaller label; exact
/// distances, ties to the lower row) joins `C`. The class keeps the seed and the samples that
/// joined. (One pass, as imbalanced-learn.)
public struct CondensedNearestNeighbour: Sampler {
    public var samplingStrategy: SamplingStrategy
    /// Neighbours of the classification rule (default 1).
    public var nNeighbors: Int

    public init(samplingStrategy: SamplingStrategy = .auto, nNeighbors: Int = 1) {
        self.samplingStrategy = samplingStrategy
        self.nNeighbors = nNeighbors
    }

    /// - Throws: the input errors of `SMOTE`; `invalidParameter` naming `nNeighbors` below 1 or
    ///   above the size of the starting store.
    public func fitResample(features: MatrixView<Float>, labels: [Int], generator: inout some RandomNumberGenerator) throws -> Resampled {
        let dataset = try Dataset(features: features, labels: labels)
        let cleaned = Set(try samplingStrategy.targets(classCounts: dataset.classCounts, purpose: .cleaning).map(\.label))
        let minority = dataset.minorityClass
        let minorityRows = dataset.rows(of: minority)
        guard nNeighbors >= 1, nNeighbors <= minorityRows.count + 1 else {
            throw FulcrumError.invalidParameter(argument: "nNeighbors", value: "\(nNeighbors)",
                                                requirement: "in 1...\(minorityRows.count + 1) (the minority class plus one seed)")
        }
        var kept: [Int] = []
        for (label, rows) in zip(dataset.classes, dataset.members) {
            guard cleaned.contains(label), label != minority else { kept += rows; continue }
            let seed = rows[generator.nextIndex(below: rows.count)]
            let store = (minorityRows + [seed]).sorted()
            var lists = try NeighborStore(dataset, queries: rows, store: store, k: nNeighbors)
            var joined = [seed]
            for (p, row) in rows.enumerated() where row != seed {
                if modeLabel(lists.neighbors(p).map { dataset.labels[$0] }) != label {
                    joined.append(row)
                    lists.add(row, from: p + 1)
                }
            }
            kept += joined
        }
        return dataset.keeping(kept)
    }
}

/// The `k` nearest members of a growing store for each query row, kept exact as rows join.
struct NeighborStore {
    let dataset: Dataset
    let queries: [Int]
    let k: Int
    /// Per query: (exact Float distance, row), ascending, at most `k`.
    var lists: [[(Float, Int)]]

    init(_ dataset: Dataset, queries: [Int], store: [Int], k: Int) throws {
        self.dataset = dataset
        self.queries = queries
        self.k = k
        let found = try dataset.neighbors(of: queries, among: store, k: min(k, store.count), excludeSelf: false)
        lists = zip(found.indices, found.distances).map { Array(zip($1, $0)) }
    }

    func neighbors(_ p: Int) -> [Int] { lists[p].map(\.1) }

    /// Adds `row` to the store for the queries from position `start` on.
    mutating func add(_ row: Int, from start: Int) {
        let x = dataset.features.row(row)
        for p in start..<queries.count {
            let q = dataset.features.row(queries[p])
            var s = 0.0
            for c in 0..<dataset.columns { let t = Double(q[c]) - Double(x[c]); s += t * t }
            let candidate = (Float(s), row)
            insertSorted(&lists[p], candidate, limit: k)
        }
    }
}

/// Inserts into an ascending (distance, row) list of at most `limit` entries.
func insertSorted(_ list: inout [(Float, Int)], _ e: (Float, Int), limit: Int) {
    let less = { (a: (Float, Int), b: (Float, Int)) in a.0 < b.0 || (a.0 == b.0 && a.1 < b.1) }
    if list.count == limit {
        guard less(e, list[limit - 1]) else { return }
        list.removeLast()
    }
    var p = list.count
    while p > 0 && less(e, list[p - 1]) { p -= 1 }
    list.insert(e, at: p)
}

/// One-sided selection ("Addressing the Curse of Imbalanced Training Sets: One-Sided
/// Selection", Kubat and Matwin): for each resampled class, a random seed plus the class samples
/// that the `nNeighbors`-NN rule on (minority + seed) misclassifies; then Tomek links among the
/// kept rows are removed from the resampled classes.
public struct OneSidedSelection: Sampler {
    public var samplingStrategy: SamplingStrategy
    public var nNeighbors: Int

    public init(samplingStrategy: SamplingStrategy = .auto, nNeighbors: Int = 1) {
        self.samplingStrategy = samplingStrategy
        self.nNeighbors = nNeighbors
    }

    /// - Throws: as `CondensedNearestNeighbour`.
    public func fitResample(features: MatrixView<Float>, labels: [Int], generator: inout some RandomNumberGenerator) throws -> Resampled {
        let dataset = try Dataset(features: features, labels: labels)
        let targets = try samplingStrategy.targets(classCounts: dataset.classCounts, purpose: .cleaning)
        let cleaned = Set(targets.map(\.label))
        let minority = dataset.minorityClass
        let minorityRows = dataset.rows(of: minority)
        guard nNeighbors >= 1, nNeighbors <= minorityRows.count + 1 else {
            throw FulcrumError.invalidParameter(argument: "nNeighbors", value: "\(nNeighbors)",
                                                requirement: "in 1...\(minorityRows.count + 1) (the minority class plus one seed)")
        }
        var kept: [Int] = []
        for (label, rows) in zip(dataset.classes, dataset.members) {
            guard cleaned.contains(label), label != minority else { kept += rows; continue }
            let seed = rows[generator.nextIndex(below: rows.count)]
            let others = rows.filter { $0 != seed }
            let store = (minorityRows + [seed]).sorted()
            let found = try dataset.neighbors(of: others, among: store, k: nNeighbors, excludeSelf: false).indices
            kept.append(seed)
            for (p, row) in others.enumerated() where modeLabel(found[p].map { dataset.labels[$0] }) != label { kept.append(row) }
        }
        kept.sort()
        // Tomek links among the kept rows, removed from the resampled classes only.
        let reduced = dataset.gather(kept)
        let keptAfterTomek = try reduced.withUnsafeBufferPointer { p in
            let subset = try Dataset(features: MatrixView(unchecked: p.baseAddress, rows: kept.count, columns: dataset.columns, rowStride: dataset.columns),
                                     labels: kept.map { dataset.labels[$0] }, minimumClasses: 1)
            return try TomekLinks(samplingStrategy: .classes(targets.map(\.label).filter { subset.classes.contains($0) })).keptRows(subset)
        }
        return dataset.keeping(keptAfterTomek.map { kept[$0] })
    }
}
