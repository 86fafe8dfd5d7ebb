import FulcrumKernels

/// Neighbourhood cleaning rule ("Improving Identification of Difficult Small Classes by
/// Balancing Class Distribution", Laurikkala): removes
/// - A1: the samples ENN (`nNeighbors`, `.mode` selection, same strategy) would remove;
/// - A2: the neighbours, in the cleaned classes, of each minority sample that its `nNeighbors`
///   nearest neighbours (self excluded by index) misclassify by majority vote (ties to the smaller
///   label), where a class is cleaned when the strategy names it and it has more than
///   `thresholdCleaning × n_min` samples.
///
/// (imbalanced-learn classifies the minority samples with a classifier fitted on them, so each
/// counts itself among its own neighbours; here, as in the paper, a sample is judged by its
/// neighbours only.)
public struct NeighbourhoodCleaningRule: CleaningSampler {
    public var samplingStrategy: SamplingStrategy
    public var nNeighbors: Int
    public var thresholdCleaning: Double

    public init(samplingStrategy: SamplingStrategy = .auto, nNeighbors: Int = 3, thresholdCleaning: Double = 0.5) {
        self.samplingStrategy = samplingStrategy
        self.nNeighbors = nNeighbors
        self.thresholdCleaning = thresholdCleaning
    }

    /// - Throws: as `EditedNearestNeighbours`, and `invalidParameter` naming `thresholdCleaning`
    ///   unless positive and finite.
    public func fitResample(features: MatrixView<Float>, labels: [Int]) throws -> Resampled {
        guard thresholdCleaning > 0, thresholdCleaning.isFinite else {
            throw FulcrumError.invalidParameter(argument: "thresholdCleaning", value: "\(thresholdCleaning)", requirement: "finite and > 0")
        }
        let dataset = try Dataset(features: features, labels: labels)
        let targets = try samplingStrategy.targets(classCounts: dataset.classCounts, purpose: .cleaning)
        let keptByENN = Set(try EditedNearestNeighbours(samplingStrategy: samplingStrategy, nNeighbors: nNeighbors, kindSelection: .mode).keptRows(dataset))
        var removed = Set((0..<dataset.rows).filter { !keptByENN.contains($0) })
        let minority = dataset.minorityClass
        let minoritySize = dataset.rows(of: minority).count
        let toClean = Set(targets.filter { Double($0.count) > Double(minoritySize) * thresholdCleaning }.map(\.label))
        let neighbors = try dataset.neighbors(of: dataset.rows(of: minority), among: Array(0..<dataset.rows), k: nNeighbors, excludeSelf: true).indices
        for around in neighbors where modeLabel(around.map { dataset.labels[$0] }) != minority {
            for j in around where toClean.contains(dataset.labels[j]) { removed.insert(j) }
        }
        return dataset.keeping((0..<dataset.rows).filter { !removed.contains($0) })
    }
}
