import FulcrumKernels

/// SMOTE-N, SMOTE for nominal (categorical-only) features ("SMOTE: Synthetic Minority
/// Over-sampling Technique", section 6.2), with imbalanced-learn's definitions.
///
/// Every column holds category codes. Distances are the value difference metric: with
/// `P(c | f = v)` the share of class `c` among the samples whose feature `f` equals `v`,
/// `δ(x, y) = Σ_f (Σ_c |P(c | f = x_f) − P(c | f = y_f)|)²`. Each synthetic row of a class takes a
/// uniformly drawn sample of the class and gives every feature the most frequent value among the
/// sample and its `kNeighbors` nearest class neighbours (self excluded by index; ties to the
/// smaller value, scipy's `mode`).
///
/// Complexity: `O(n_c²·D)` per resampled class (table look-ups, no vector kernel).
public struct SMOTEN: Sampler {
    public var samplingStrategy: SamplingStrategy
    public var kNeighbors: Int

    public init(samplingStrategy: SamplingStrategy = .auto, kNeighbors: Int = 5) {
        self.samplingStrategy = samplingStrategy
        self.kNeighbors = kNeighbors
    }

    /// - Throws: the errors of `SMOTE`.
    public func fitResample(features: MatrixView<Float>, labels: [Int], generator: inout some RandomNumberGenerator) throws -> Resampled {
        let dataset = try Dataset(features: features, labels: labels)
        let targets = try samplingStrategy.targets(classCounts: dataset.classCounts, purpose: .overSampling)
        for (label, count) in targets where count > 0 { try dataset.requireNeighbors(kNeighbors, in: label, argument: "kNeighbors") }
        let d = dataset.columns
        // Category codes per column and the class-conditional shares of each code.
        let codes = (0..<d).map { c in Array(Set((0..<dataset.rows).map { features[$0, c] })).sorted() }
        let encoded = (0..<dataset.rows).map { i in (0..<d).map { c in codes[c].firstIndex(of: features[i, c])! } }
        let classIndex = Dictionary(uniqueKeysWithValues: dataset.classes.enumerated().map { ($1, $0) })
        let shares: [[[Double]]] = (0..<d).map { c in
            var counts = [[Double]](repeating: [Double](repeating: 0, count: dataset.classes.count), count: codes[c].count)
            for i in 0..<dataset.rows { counts[encoded[i][c]][classIndex[labels[i]]!] += 1 }
            return counts.map { row in let t = row.reduce(0, +); return row.map { $0 / t } }
        }
        // δ_f(a, b) for every pair of codes of every column.
        let tables: [[[Double]]] = (0..<d).map { c in
            shares[c].map { a in shares[c].map { b in let l1 = zip(a, b).reduce(0.0) { $0 + abs($1.0 - $1.1) }; return l1 * l1 } }
        }
        var synthetic: [Float] = [], newLabels: [Int] = []
        for (label, count) in targets where count > 0 {
            let rows = dataset.rows(of: label)
            let neighbors = rows.map { i -> [Int] in
                var scored: [(Double, Int)] = []
                for j in rows where j != i {
                    var s = 0.0
                    for c in 0..<d { s += tables[c][encoded[i][c]][encoded[j][c]] }
                    scored.append((s, j))
                }
                scored.sort { $0.0 < $1.0 || ($0.0 == $1.0 && $0.1 < $1.1) }
                return [i] + scored.prefix(kNeighbors).map(\.1)
            }
            for _ in 0..<count {
                let group = neighbors[generator.nextIndex(below: rows.count)]
                for c in 0..<d {
                    var tally: [Float: Int] = [:]
                    for j in group { tally[features[j, c], default: 0] += 1 }
                    synthetic.append(tally.max { $0.value < $1.value || ($0.value == $1.value && $0.key > $1.key) }!.key)
                }
                newLabels.append(label)
            }
        }
        return try dataset.appending(synthetic, labels: newLabels)
    }
}
