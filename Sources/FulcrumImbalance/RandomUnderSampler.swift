import FulcrumKernels

/// Random under-sampling: each resampled class keeps a uniformly drawn subset of its rows of the
/// size the strategy asks (without replacement by default: a partial Fisher–Yates shuffle).
///
/// The random under-sampling of "A systematic study of the class imbalance problem in
/// convolutional neural networks" (Buda et al.) is this sampler with `.auto`.
public struct RandomUnderSampler: Sampler {
    public var samplingStrategy: SamplingStrategy
    /// Draw with replacement (imbalanced-learn's `replacement`, default false).
    public var replacement: Bool

    public init(samplingStrategy: SamplingStrategy = .auto, replacement: Bool = false) {
        self.samplingStrategy = samplingStrategy
        self.replacement = replacement
    }

    /// The kept rows in ascending order (a row drawn twice with replacement appears twice), and
    /// their indices in `sampleIndices`.
    ///
    /// - Throws: the input errors of `SMOTE`; `invalidParameter` naming `samplingStrategy` for a
    ///   count larger than a class.
    public func fitResample(features: MatrixView<Float>, labels: [Int], generator: inout some RandomNumberGenerator) throws -> Resampled {
        let dataset = try Dataset(features: features, labels: labels)
        let targets = Dictionary(uniqueKeysWithValues: try samplingStrategy.targets(classCounts: dataset.classCounts, purpose: .underSampling).map { ($0.label, $0.count) })
        var kept: [Int] = []
        for (label, rows) in zip(dataset.classes, dataset.members) {
            guard let count = targets[label] else { kept += rows; continue }
            if replacement {
                for _ in 0..<count { kept.append(rows[generator.nextIndex(below: rows.count)]) }
            } else {
                var pool = rows
                for p in 0..<count {
                    pool.swapAt(p, p + generator.nextIndex(below: pool.count - p))
                }
                kept += pool.prefix(count)
            }
        }
        return dataset.keeping(kept)
    }
}
