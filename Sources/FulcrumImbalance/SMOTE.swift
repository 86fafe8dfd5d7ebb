import FulcrumKernels

/// SMOTE ("SMOTE: Synthetic Minority Over-sampling Technique", Chawla et al.): each synthetic
/// sample lies on the segment between a sample of the class and one of its `kNeighbors` nearest
/// neighbours within the class.
///
/// For every class `c` the strategy asks to grow by `n_c` rows: the exact `kNeighbors` nearest
/// neighbours of each class sample among the class (`NearestNeighbors.searchSelf`, self excluded
/// by index, so duplicates are each other's neighbours); then `n_c` times a (sample, neighbour)
/// pair is drawn uniformly and a gap `u ~ U[0, 1)`, giving `x + u·(x_nn − x)` — imbalanced-learn's
/// definition. The seed paper's "SMOTE + under-sampling of the majority" is `SMOTE` followed by
/// `RandomUnderSampler`.
///
/// Complexity: `O(n_c²·D)` per resampled class for the neighbours, `O(n_c·D)` for the rows.
public struct SMOTE: Sampler {
    /// Which classes grow and by how much (default `.auto`: every class but the majority, to the
    /// majority's size).
    public var samplingStrategy: SamplingStrategy
    /// Neighbours per sample (imbalanced-learn's `k_neighbors`, default 5).
    public var kNeighbors: Int

    public init(samplingStrategy: SamplingStrategy = .auto, kNeighbors: Int = 5) {
        self.samplingStrategy = samplingStrategy
        self.kNeighbors = kNeighbors
    }

    /// - Throws: `FulcrumError` naming `labels` (wrong length, fewer than two classes),
    ///   `features` (NaN/±∞: the first in row-major order), `samplingStrategy` (see
    ///   `SamplingStrategy.targets`) or `kNeighbors` (below 1, or not smaller than a resampled
    ///   class: the message names the class and its size). The features are checked while they
    ///   are read for the neighbours and the output (no pass of their own), so an input with
    ///   several faults may report `samplingStrategy` or `kNeighbors` before `features`.
    public func fitResample(features: MatrixView<Float>, labels: [Int], generator: inout some RandomNumberGenerator) throws -> Resampled {
        // The features are checked where they are read anyway: the resampled classes' rows when
        // gathered for their neighbours, every row while it is copied to the output.
        let dataset = try Dataset(features: features, labels: labels, checkingFinite: false)
        var plan = InterpolationPlan()
        try addSamples(to: &plan, dataset: dataset, generator: &generator)
        return try dataset.appending(plan)
    }

    /// Plans the synthetic rows of every resampled class (shared with the combined samplers).
    func addSamples(to plan: inout InterpolationPlan, dataset: Dataset, generator: inout some RandomNumberGenerator) throws {
        let targets = try samplingStrategy.targets(classCounts: dataset.classCounts, purpose: .overSampling)
        for (label, count) in targets where count > 0 {
            try dataset.requireNeighbors(kNeighbors, in: label, argument: "kNeighbors")
        }
        for (label, count) in targets where count > 0 {
            let rows = dataset.rows(of: label)
            let pairs = try dataset.neighborPairs(within: rows, k: kNeighbors)
            plan.addUniform(count: count, pairs: pairs, stepSize: 1, label: label, generator: &generator)
        }
    }
}
