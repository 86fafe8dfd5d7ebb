import FulcrumKernels

/// k-means SMOTE ("Improving imbalanced learning through a heuristic oversampling method based
/// on k-means and SMOTE", Douzas et al.), with imbalanced-learn's definitions.
///
/// For each resampled class `c` needing `n` rows: cluster all samples with k-means (`clusters`
/// clusters, k-means++ seeding from `generator`); keep the clusters whose share of class `c` is
/// at least `clusterBalanceThreshold` (default: `n / N / 2`, imbalanced-learn's "auto") and that
/// hold more than `kNeighbors` samples of `c`; weight each kept cluster by its sparsity
/// `mean_distance^e / n_{c,cluster}` (mean Euclidean distance between its class-`c` samples,
/// `e = densityExponent`, default `0.16 · (log_{1.6} D)^{1.8}`), normalised to sum 1; and run
/// SMOTE inside each kept cluster for its share of the `n` rows. (imbalanced-learn rounds each
/// share up, which can overshoot; here the shares are the largest-remainder apportionment of `n`,
/// and the clustering is full Lloyd instead of mini-batch k-means.)
public struct KMeansSMOTE: Sampler {
    public var samplingStrategy: SamplingStrategy
    /// SMOTE neighbours within a cluster (imbalanced-learn's default 2).
    public var kNeighbors: Int
    /// k-means clusters (scikit-learn's default 8).
    public var clusters: Int
    /// `nil` for "auto".
    public var clusterBalanceThreshold: Double?
    /// `nil` for "auto".
    public var densityExponent: Double?

    public init(samplingStrategy: SamplingStrategy = .auto, kNeighbors: Int = 2, clusters: Int = 8,
                clusterBalanceThreshold: Double? = nil, densityExponent: Double? = nil) {
        self.samplingStrategy = samplingStrategy
        self.kNeighbors = kNeighbors
        self.clusters = clusters
        self.clusterBalanceThreshold = clusterBalanceThreshold
        self.densityExponent = densityExponent
    }

    /// - Throws: the errors of `SMOTE` and `KMeans.fit` (naming `clusters`); `invalidParameter`
    ///   naming `clusterBalanceThreshold` (not finite) or `densityExponent` (not finite and ≥ 0);
    ///   `emptyReduction` naming `clusterBalanceThreshold` when no cluster qualifies for a class
    ///   (lower the threshold or add clusters).
    public func fitResample(features: MatrixView<Float>, labels: [Int], generator: inout some RandomNumberGenerator) throws -> Resampled {
        let dataset = try Dataset(features: features, labels: labels)
        let targets = try samplingStrategy.targets(classCounts: dataset.classCounts, purpose: .overSampling)
        guard kNeighbors >= 1 else { throw FulcrumError.invalidParameter(argument: "kNeighbors", value: "\(kNeighbors)", requirement: ">= 1") }
        if let threshold = clusterBalanceThreshold, !threshold.isFinite {
            throw FulcrumError.invalidParameter(argument: "clusterBalanceThreshold", value: "\(threshold)", requirement: "finite")
        }
        if let exponent = densityExponent, !(exponent.isFinite && exponent >= 0) {
            throw FulcrumError.invalidParameter(argument: "densityExponent", value: "\(exponent)", requirement: "finite and >= 0")
        }
        let exponent = densityExponent ?? 0.16 * Double.pow(Double.log(Double(max(dataset.columns, 1))) / Double.log(1.6), 1.8)
        var plan = InterpolationPlan()
        for (label, count) in targets where count > 0 {
            let assignment = try KMeans.fit(features, clusters: clusters, generator: &generator).labels
            let threshold = clusterBalanceThreshold ?? Double(count) / Double(dataset.rows) / 2
            var kept: [[Int]] = [], logDistances: [Double] = []
            for cluster in 0..<clusters {
                let members = (0..<dataset.rows).filter { assignment[$0] == cluster }
                let own = members.filter { labels[$0] == label }
                guard !members.isEmpty, Double(own.count) / Double(members.count) >= threshold, own.count > kNeighbors else { continue }
                kept.append(own)
                logDistances.append(Double.log(meanDistance(dataset, own)))  // −∞ for a cluster of duplicates
            }
            guard !kept.isEmpty else {
                throw FulcrumError.emptyReduction(
                    argument: "clusterBalanceThreshold",
                    reason: "no cluster holds enough samples of class \(label); lower the threshold or use more clusters")
            }
            // log(mean_distance^e / n) less e·log(d_max), a common term the normalisation drops:
            // e·(log d − log d_max) ≤ 0 cannot overflow for any finite e (d_max is taken as 1 when
            // every kept cluster is of duplicates, whose terms are all −∞).
            let top = logDistances.max()!, logLargest = top > -.infinity ? top : 0
            let logSparsity = zip(logDistances, kept).map { logDistance, own in
                (exponent == 0 ? 0 : exponent * (logDistance - logLargest)) - Double.log(Double(own.count))
            }
            let shares = apportion(count, weights: normalisedWeights(logSparsity))
            for (own, share) in zip(kept, shares) where share > 0 {
                plan.addUniform(count: share, seeds: own, neighbors: try dataset.neighborsWithin(own, k: kNeighbors),
                                stepSize: 1, label: label, generator: &generator)
            }
        }
        return try dataset.appending(plan)
    }

    /// Mean Euclidean distance over ordered pairs of distinct rows (0 for one row).
    func meanDistance(_ dataset: Dataset, _ rows: [Int]) -> Double {
        guard rows.count > 1 else { return 0 }
        var sum = 0.0
        for a in rows { for b in rows where b != a {
            var s = 0.0
            for c in 0..<dataset.columns { let t = Double(dataset.features[a, c]) - Double(dataset.features[b, c]); s += t * t }
            sum += s.squareRoot()
        } }
        return sum / Double(rows.count * (rows.count - 1))
    }
}

/// Weights proportional to `exp(logWeights)`, summing to 1, computed against the largest so that
/// none overflows; equal weights when every one is 0 (all `−∞`).
func normalisedWeights(_ logWeights: [Double]) -> [Double] {
    guard let top = logWeights.max(), top > -.infinity else { return logWeights.map { _ in 1 / Double(logWeights.count) } }
    let scaled = logWeights.map { Double.exp($0 - top) }
    let total = scaled.reduce(0, +)
    return scaled.map { $0 / total }
}

/// Largest-remainder apportionment of `total` by `weights` (summing to 1), ties to the lower index.
func apportion(_ total: Int, weights: [Double]) -> [Int] {
    let quotas = weights.map { $0 * Double(total) }
    var counts = quotas.map { Int($0.rounded(.down)) }
    let order = quotas.indices.sorted {
        let (a, b) = (quotas[$0] - Double(counts[$0]), quotas[$1] - Double(counts[$1]))
        return a > b || (a == b && $0 < $1)
    }
    for p in order.prefix(max(0, total - counts.reduce(0, +))) { counts[p] += 1 }
    return counts
}
