import FulcrumKernels

/// Borderline-SMOTE ("Borderline-SMOTE: A New Over-Sampling Method in Imbalanced Data Sets
/// Learning", Han et al.): SMOTE seeded only from the samples in danger.
///
/// A sample of class `c` is *in danger* when, among its `mNeighbors` nearest neighbours in the
/// whole data set (self excluded by index), the number `n_o` of other-class neighbours satisfies
/// `m/2 ≤ n_o < m` (all `m` foreign is noise, fewer than half is safe). Synthetic rows are then
/// made as in SMOTE from the danger samples only:
/// - `.borderline1`: partners among the seed's `kNeighbors` nearest neighbours within its class;
/// - `.borderline2`: a fraction `f ~ Beta(10, 10)` of the rows as in kind 1, the rest with
///   partners among the seed's `kNeighbors` nearest neighbours in the whole data set and gaps
///   in `[0, 0.5)`. (imbalanced-learn splits the count as `⌊f(n+1)⌋ + ⌊(1−f)n⌋`, which can make
///   one row fewer than asked; here the first part is `min(n, ⌊f(n+1)⌋)` and the second `n` minus it.)
/// A class with no sample in danger gets no synthetic row (as in imbalanced-learn).
public struct BorderlineSMOTE: Sampler {
    /// The two variants of the paper.
    public enum Kind: Sendable { case borderline1, borderline2 }

    public var samplingStrategy: SamplingStrategy
    /// SMOTE neighbours (default 5).
    public var kNeighbors: Int
    /// Neighbours deciding danger (imbalanced-learn's `m_neighbors`, default 10).
    public var mNeighbors: Int
    public var kind: Kind

    public init(samplingStrategy: SamplingStrategy = .auto, kNeighbors: Int = 5, mNeighbors: Int = 10, kind: Kind = .borderline1) {
        self.samplingStrategy = samplingStrategy
        self.kNeighbors = kNeighbors
        self.mNeighbors = mNeighbors
        self.kind = kind
    }

    /// - Throws: as `SMOTE.fitResample`, and `invalidParameter` naming `mNeighbors` when it is
    ///   below 1 or not smaller than the number of samples.
    public func fitResample(features: MatrixView<Float>, labels: [Int], generator: inout some RandomNumberGenerator) throws -> Resampled {
        let dataset = try Dataset(features: features, labels: labels)
        let targets = try samplingStrategy.targets(classCounts: dataset.classCounts, purpose: .overSampling)
        guard mNeighbors >= 1, mNeighbors < dataset.rows else {
            throw FulcrumError.invalidParameter(argument: "mNeighbors", value: "\(mNeighbors)", requirement: "in 1..<\(dataset.rows) (the number of samples)")
        }
        for (label, count) in targets where count > 0 { try dataset.requireNeighbors(kNeighbors, in: label, argument: "kNeighbors") }
        let all = targets.contains { $0.count > 0 } ? try dataset.neighborsOfAll(k: mNeighbors) : []
        var plan = InterpolationPlan()
        for (label, count) in targets where count > 0 {
            let rows = dataset.rows(of: label)
            let danger = rows.filter { isInDanger(all[$0], label: label, dataset: dataset) }
            guard !danger.isEmpty else { continue }
            let within = try dataset.neighborsWithin(rows, k: kNeighbors)
            let position = Dictionary(uniqueKeysWithValues: rows.enumerated().map { ($1, $0) })
            let dangerWithin = danger.map { within[position[$0]!] }
            switch kind {
            case .borderline1:
                plan.addUniform(count: count, seeds: danger, neighbors: dangerWithin, stepSize: 1, label: label, generator: &generator)
            case .borderline2:
                let fraction = generator.nextBeta10()
                let first = min(count, Int((fraction * Double(count + 1)).rounded(.down)))
                plan.addUniform(count: first, seeds: danger, neighbors: dangerWithin, stepSize: 1, label: label, generator: &generator)
                let anywhere = try dataset.neighbors(of: danger, among: Array(0..<dataset.rows), k: kNeighbors, excludeSelf: true).indices
                plan.addUniform(count: count - first, seeds: danger, neighbors: anywhere, stepSize: 0.5, label: label, generator: &generator)
            }
        }
        return try dataset.appending(plan)
    }

    /// `m/2 ≤ (other-class neighbours) < m`.
    func isInDanger(_ neighbors: [Int], label: Int, dataset: Dataset) -> Bool {
        let foreign = neighbors.reduce(0) { $0 + (dataset.labels[$1] != label ? 1 : 0) }
        return 2 * foreign >= neighbors.count && foreign < neighbors.count
    }
}

extension RandomNumberGenerator {
    /// A Beta(10, 10) deviate as `G₁ / (G₁ + G₂)` with `Gᵢ ~ Gamma(10)`, each the sum of ten
    /// unit exponentials `−log U` (exact for integer shape).
    mutating func nextBeta10() -> Double {
        func gamma10(_ g: inout some RandomNumberGenerator) -> Double {
            var s = 0.0
            for _ in 0..<10 { s -= Double.log(1 - g.nextUnit()) }
            return s
        }
        let a = gamma10(&self), b = gamma10(&self)
        return a / (a + b)
    }
}
