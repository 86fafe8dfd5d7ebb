import FulcrumKernels

/// Cluster-centroid under-sampling (imbalanced-learn's `ClusterCentroids`): each resampled
/// class is replaced by the `n` centres of a k-means with `n` clusters fitted on it (k-means++
/// seeding from `generator`).
/// - `.soft` voting: the centres themselves (synthetic rows);
/// - `.hard` voting: for each centre the nearest sample of the class (ties to the lower row; a
///   sample nearest to two centres is kept twice, as in imbalanced-learn).
///
/// The result holds the rows of the classes left alone, in their order, then the new rows of the
/// resampled classes in ascending label order. `sampleIndices` lists the original row of every
/// output row for hard voting and is nil for soft voting.
public struct ClusterCentroids: Sampler {
    /// imbalanced-learn's `voting`.
    public enum Voting: Sendable { case soft, hard }

    public var samplingStrategy: SamplingStrategy
    public var voting: Voting

    public init(samplingStrategy: SamplingStrategy = .auto, voting: Voting = .soft) {
        self.samplingStrategy = samplingStrategy
        self.voting = voting
    }

    /// - Throws: the input errors of `SMOTE`; `samplingStrategy` as for `RandomUnderSampler`;
    ///   `invalidParameter` naming `samplingStrategy` for a target of 0 rows.
    public func fitResample(features: MatrixView<Float>, labels: [Int], generator: inout some RandomNumberGenerator) throws -> Resampled {
        let dataset = try Dataset(features: features, labels: labels)
        let targets = try samplingStrategy.targets(classCounts: dataset.classCounts, purpose: .underSampling)
        let resampled = Set(targets.map(\.label))
        let untouched = (0..<dataset.rows).filter { !resampled.contains(labels[$0]) }
        var rows: [Float] = [], newLabels: [Int] = [], origins: [Int] = []
        for (label, count) in targets {
            guard count >= 1 else {
                throw FulcrumError.invalidParameter(argument: "samplingStrategy", value: "\(samplingStrategy)", requirement: "at least one row kept for class \(label)")
            }
            let members = dataset.rows(of: label)
            let data = dataset.gather(members)
            let fit = try data.withUnsafeBufferPointer { p in
                try KMeans.fit(MatrixView(unchecked: p.baseAddress, rows: members.count, columns: dataset.columns, rowStride: dataset.columns),
                               clusters: count, generator: &generator)
            }
            switch voting {
            case .soft:
                rows += fit.centres
            case .hard:
                let nearest = try fit.centres.withUnsafeBufferPointer { c in
                    try nearestMembers(dataset, members: members,
                                       centres: MatrixView(unchecked: c.baseAddress, rows: count, columns: dataset.columns, rowStride: dataset.columns))
                }
                origins += nearest
                rows += dataset.gather(nearest)
            }
            newLabels += Array(repeating: label, count: count)
        }
        var result = Resampled(features: dataset.gather(untouched) + rows, labels: untouched.map { labels[$0] } + newLabels,
                               columns: dataset.columns, sampleIndices: nil)
        if voting == .hard { result.sampleIndices = untouched + origins }
        return result
    }

    /// The nearest member of the class to each centre.
    func nearestMembers(_ dataset: Dataset, members: [Int], centres: MatrixView<Float>) throws -> [Int] {
        let data = dataset.gather(members)
        return try data.withUnsafeBufferPointer { p in
            let table = try NearestNeighbors.search(
                queries: centres, base: MatrixView(unchecked: p.baseAddress, rows: members.count, columns: dataset.columns, rowStride: dataset.columns), k: 1)
            return table.indices.map { members[$0] }
        }
    }
}
