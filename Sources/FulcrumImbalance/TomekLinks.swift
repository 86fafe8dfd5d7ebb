import FulcrumKernels

/// Tomek links ("Two Modifications of CNN", Tomek): two samples of different classes that are
/// each other's nearest neighbour. The sampler removes the linked samples whose class the
/// strategy names (default `.auto`: every class but the minority, i.e. the majority side).
///
/// Nearest neighbours are exact, self excluded by index (an exact duplicate is a nearest
/// neighbour at distance 0), ties to the lower index.
public struct TomekLinks: CleaningSampler {
    public var samplingStrategy: SamplingStrategy

    public init(samplingStrategy: SamplingStrategy = .auto) {
        self.samplingStrategy = samplingStrategy
    }

    /// - Throws: the input errors of `SMOTE`; `invalidParameter` naming `samplingStrategy` for a
    ///   ratio or counts.
    public func fitResample(features: MatrixView<Float>, labels: [Int]) throws -> Resampled {
        let dataset = try Dataset(features: features, labels: labels)
        return dataset.keeping(try keptRows(dataset))
    }

    func keptRows(_ dataset: Dataset) throws -> [Int] {
        let cleaned = Set(try samplingStrategy.targets(classCounts: dataset.classCounts, purpose: .cleaning).map(\.label))
        let nearest = try dataset.neighborsOfAll(k: 1).map { $0[0] }
        return (0..<dataset.rows).filter { i in
            !(cleaned.contains(dataset.labels[i]) && TomekLinks.isLinked(i, nearest: nearest, labels: dataset.labels))
        }
    }

    /// Whether `i` and its nearest neighbour form a Tomek link.
    static func isLinked(_ i: Int, nearest: [Int], labels: [Int]) -> Bool {
        let j = nearest[i]
        return labels[j] != labels[i] && nearest[j] == i
    }
}
