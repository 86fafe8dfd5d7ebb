import FulcrumKernels

/// ADASYN ("ADASYN: Adaptive Synthetic Sampling Approach for Imbalanced Learning", He et al.):
/// SMOTE with more synthetic rows for the samples that are harder to learn.
///
/// For each sample `i` of a resampled class, `r_i` = (other-class samples among its
/// `nNeighbors` nearest neighbours in the whole data set) / `nNeighbors`; the weights
/// `r̂_i = r_i / Σ r` split the class's `n` new rows: sample `i` seeds `g_i` rows, where the
/// `g_i` are the largest-remainder apportionment of `n·r̂_i` (ties to the lower row) — so that
/// `Σ g_i = n` exactly, where imbalanced-learn's `rint` may miss by a few rows. Each row takes a
/// uniformly drawn partner among the seed's `nNeighbors` nearest neighbours within its class and
/// a gap `u ~ U[0, 1)`.
public struct ADASYN: Sampler {
    public var samplingStrategy: SamplingStrategy
    /// Neighbours (imbalanced-learn's `n_neighbors`, default 5), for both the weights and the partners.
    public var nNeighbors: Int

    public init(samplingStrategy: SamplingStrategy = .auto, nNeighbors: Int = 5) {
        self.samplingStrategy = samplingStrategy
        self.nNeighbors = nNeighbors
    }

    /// - Throws: as `SMOTE.fitResample` (naming `nNeighbors`), and `emptyReduction` naming
    ///   `labels` when no sample of a resampled class has a neighbour of another class (the
    ///   weights would divide by zero; SMOTE is the method for such data).
    public func fitResample(features: MatrixView<Float>, labels: [Int], generator: inout some RandomNumberGenerator) throws -> Resampled {
        let dataset = try Dataset(features: features, labels: labels)
        let targets = try samplingStrategy.targets(classCounts: dataset.classCounts, purpose: .overSampling)
        for (label, count) in targets where count > 0 { try dataset.requireNeighbors(nNeighbors, in: label, argument: "nNeighbors") }
        let all = targets.contains { $0.count > 0 } ? try dataset.neighborsOfAll(k: nNeighbors) : []
        var plan = InterpolationPlan()
        for (label, count) in targets where count > 0 {
            let rows = dataset.rows(of: label)
            let seedCounts = try ADASYN.seedCounts(rows.map { all[$0] }, label: label, labels: dataset.labels, total: count)
            let within = try dataset.neighborsWithin(rows, k: nNeighbors)
            for (p, g) in seedCounts.enumerated() {
                for _ in 0..<g {
                    let partner = within[p][generator.nextIndex(below: nNeighbors)]
                    plan.add(seed: rows[p], partner: partner, gap: generator.nextUnit(), label: label)
                }
            }
        }
        return try dataset.appending(plan)
    }

    /// The rows each sample seeds: largest-remainder apportionment of `total` by the share of
    /// other-class neighbours.
    static func seedCounts(_ neighbors: [[Int]], label: Int, labels: [Int], total: Int) throws -> [Int] {
        let ratios = neighbors.map { n in Double(n.reduce(0) { $0 + (labels[$1] != label ? 1 : 0) }) / Double(n.count) }
        let sum = ratios.reduce(0, +)
        guard sum > 0 else {
            throw FulcrumError.emptyReduction(
                argument: "labels",
                reason: "no sample of class \(label) has a neighbour of another class, so ADASYN has no weight to spread (use SMOTE)")
        }
        let quotas = ratios.map { $0 / sum * Double(total) }
        var counts = quotas.map { Int($0.rounded(.down)) }
        let missing = total - counts.reduce(0, +)
        let order = quotas.indices.sorted {
            let (a, b) = (quotas[$0] - Double(counts[$0]), quotas[$1] - Double(counts[$1]))
            return a > b || (a == b && $0 < $1)
        }
        for p in order.prefix(missing) { counts[p] += 1 }
        return counts
    }
}
