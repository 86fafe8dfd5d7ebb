import FulcrumKernels

/// NearMiss ("kNN Approach to Unbalanced Data Distributions: A Case Study involving Information
/// Extraction", Zhang and Mani): under-sampling that keeps the samples of each resampled class
/// closest to the minority class, by Euclidean distance (not squared, as imbalanced-learn):
/// - version 1: keep the samples whose mean distance to their `nNeighbors` nearest minority
///   samples is smallest;
/// - version 2: keep the samples whose mean distance to their `nNeighbors` *farthest* minority
///   samples is smallest;
/// - version 3: the candidates are the `nNeighborsVersion3` nearest class samples of each
///   minority sample; among them keep those whose mean distance to their `nNeighbors` nearest
///   minority samples is *largest* (fewer than asked when there are fewer candidates, as in
///   imbalanced-learn).
/// Ties in the mean keep the lower row first (a stable sort).
public struct NearMiss: CleaningSampler {
    public var samplingStrategy: SamplingStrategy
    /// 1, 2 or 3.
    public var version: Int
    public var nNeighbors: Int
    public var nNeighborsVersion3: Int

    public init(samplingStrategy: SamplingStrategy = .auto, version: Int = 1, nNeighbors: Int = 3, nNeighborsVersion3: Int = 3) {
        self.samplingStrategy = samplingStrategy
        self.version = version
        self.nNeighbors = nNeighbors
        self.nNeighborsVersion3 = nNeighborsVersion3
    }

    /// - Throws: the input errors of `SMOTE`; `invalidParameter` naming `version` (not 1–3),
    ///   `nNeighbors` (below 1 or above the minority class size, naming it) or
    ///   `nNeighborsVersion3` (below 1 or above a resampled class size); `samplingStrategy` as
    ///   for `RandomUnderSampler`.
    public func fitResample(features: MatrixView<Float>, labels: [Int]) throws -> Resampled {
        guard (1...3).contains(version) else {
            throw FulcrumError.invalidParameter(argument: "version", value: "\(version)", requirement: "1, 2 or 3")
        }
        let dataset = try Dataset(features: features, labels: labels)
        let targets = Dictionary(uniqueKeysWithValues: try samplingStrategy.targets(classCounts: dataset.classCounts, purpose: .underSampling).map { ($0.label, $0.count) })
        let minority = dataset.minorityClass
        let minorityRows = dataset.rows(of: minority)
        guard nNeighbors >= 1, nNeighbors <= minorityRows.count else {
            throw FulcrumError.invalidParameter(
                argument: "nNeighbors", value: "\(nNeighbors)",
                requirement: "in 1...\(minorityRows.count), the size of the minority class \(minority)")
        }
        var kept: [Int] = []
        for (label, rows) in zip(dataset.classes, dataset.members) {
            guard let count = targets[label], label != minority else { kept += rows; continue }
            var candidates = rows
            if version == 3 {
                guard nNeighborsVersion3 >= 1, nNeighborsVersion3 <= rows.count else {
                    throw FulcrumError.invalidParameter(
                        argument: "nNeighborsVersion3", value: "\(nNeighborsVersion3)",
                        requirement: "in 1...\(rows.count), the size of class \(label)")
                }
                let near = try dataset.neighbors(of: minorityRows, among: rows, k: nNeighborsVersion3, excludeSelf: false).indices
                candidates = Array(Set(near.joined())).sorted()
            }
            let depth = version == 2 ? minorityRows.count : nNeighbors
            let distances = try dataset.neighbors(of: candidates, among: minorityRows, k: depth, excludeSelf: false).distances
            let means = distances.map { d in d.suffix(nNeighbors).reduce(0.0) { $0 + Double($1).squareRoot() } / Double(nNeighbors) }
            let order = candidates.indices.sorted {
                version == 3 ? (means[$0] > means[$1] || (means[$0] == means[$1] && $0 < $1))
                             : (means[$0] < means[$1] || (means[$0] == means[$1] && $0 < $1))
            }
            kept += order.prefix(count).map { candidates[$0] }
        }
        return dataset.keeping(kept)
    }
}
