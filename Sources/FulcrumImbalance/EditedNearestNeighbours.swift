import FulcrumKernels

/// Edited nearest neighbours ("Asymptotic Properties of Nearest Neighbor Rules Using Edited
/// Data", Wilson): a sample of a cleaned class is removed when its `nNeighbors` nearest
/// neighbours (whole data set, self excluded by index) disagree with it:
/// - `.all`: kept only if every neighbour has its class (imbalanced-learn's default);
/// - `.mode`: kept only if the most frequent neighbour class (ties to the smaller label) is its class.
public struct EditedNearestNeighbours: CleaningSampler {
    /// imbalanced-learn's `kind_sel`.
    public enum Selection: Sendable { case all, mode }

    public var samplingStrategy: SamplingStrategy
    /// Neighbours (default 3).
    public var nNeighbors: Int
    public var kindSelection: Selection

    public init(samplingStrategy: SamplingStrategy = .auto, nNeighbors: Int = 3, kindSelection: Selection = .all) {
        self.samplingStrategy = samplingStrategy
        self.nNeighbors = nNeighbors
        self.kindSelection = kindSelection
    }

    /// - Throws: the input errors of `SMOTE`; `invalidParameter` naming `nNeighbors` unless in
    ///   `1..<N`, or `samplingStrategy` for a ratio or counts.
    public func fitResample(features: MatrixView<Float>, labels: [Int]) throws -> Resampled {
        let dataset = try Dataset(features: features, labels: labels)
        return dataset.keeping(try keptRows(dataset))
    }

    func keptRows(_ dataset: Dataset) throws -> [Int] {
        let cleaned = Set(try samplingStrategy.targets(classCounts: dataset.classCounts, purpose: .cleaning).map(\.label))
        try dataset.requireNeighborsOfAll(nNeighbors, argument: "nNeighbors")
        let neighbors = try dataset.neighborsOfAll(k: nNeighbors)
        return (0..<dataset.rows).filter { i in
            let label = dataset.labels[i]
            guard cleaned.contains(label) else { return true }
            let around = neighbors[i].map { dataset.labels[$0] }
            switch kindSelection {
            case .all: return around.allSatisfy { $0 == label }
            case .mode: return modeLabel(around) == label
            }
        }
    }
}

/// Repeated edited nearest neighbours ("An Experiment with the Edited Nearest-Neighbor Rule",
/// Tomek): ENN applied again to its own output until (i) nothing is removed, (ii) a class other
/// than the original minority falls below the original minority's size, (iii) a class vanishes,
/// or (iv) `maxIterations` rounds ran. The strategy is resolved on the current data each round;
/// the round that triggers (ii) or (iii) is kept, as in imbalanced-learn.
public struct RepeatedEditedNearestNeighbours: CleaningSampler {
    public var samplingStrategy: SamplingStrategy
    public var nNeighbors: Int
    public var kindSelection: EditedNearestNeighbours.Selection
    /// Maximum rounds (default 100, at least 2).
    public var maxIterations: Int

    public init(samplingStrategy: SamplingStrategy = .auto, nNeighbors: Int = 3,
                kindSelection: EditedNearestNeighbours.Selection = .all, maxIterations: Int = 100) {
        self.samplingStrategy = samplingStrategy
        self.nNeighbors = nNeighbors
        self.kindSelection = kindSelection
        self.maxIterations = maxIterations
    }

    /// - Throws: as `EditedNearestNeighbours`, and `invalidParameter` naming `maxIterations` below 2.
    public func fitResample(features: MatrixView<Float>, labels: [Int]) throws -> Resampled {
        guard maxIterations >= 2 else {
            throw FulcrumError.invalidParameter(argument: "maxIterations", value: "\(maxIterations)", requirement: ">= 2")
        }
        let enn = EditedNearestNeighbours(samplingStrategy: samplingStrategy, nNeighbors: nNeighbors, kindSelection: kindSelection)
        let dataset = try Dataset(features: features, labels: labels)
        let kept = try repeatEditing(dataset, rounds: 0..<maxIterations, stopWhenUnchanged: true, allowMinority: false) { _, subset in
            try enn.keptRows(subset)
        }
        return dataset.keeping(kept)
    }
}

/// AllKNN ("An Experiment with the Edited Nearest-Neighbor Rule", Tomek): ENN with 1, 2, …,
/// `nNeighbors` neighbours in turn, each on the previous output; stops early when a class other
/// than the original minority falls below the original minority's size (unless
/// `allowMinority`) or a class vanishes.
public struct AllKNN: CleaningSampler {
    public var samplingStrategy: SamplingStrategy
    public var nNeighbors: Int
    public var kindSelection: EditedNearestNeighbours.Selection
    public var allowMinority: Bool

    public init(samplingStrategy: SamplingStrategy = .auto, nNeighbors: Int = 3,
                kindSelection: EditedNearestNeighbours.Selection = .all, allowMinority: Bool = false) {
        self.samplingStrategy = samplingStrategy
        self.nNeighbors = nNeighbors
        self.kindSelection = kindSelection
        self.allowMinority = allowMinority
    }

    /// - Throws: as `EditedNearestNeighbours`.
    public func fitResample(features: MatrixView<Float>, labels: [Int]) throws -> Resampled {
        let dataset = try Dataset(features: features, labels: labels)
        try dataset.requireNeighborsOfAll(nNeighbors, argument: "nNeighbors")
        let kept = try repeatEditing(dataset, rounds: 1..<(nNeighbors + 1), stopWhenUnchanged: false, allowMinority: allowMinority) { k, subset in
            try EditedNearestNeighbours(samplingStrategy: samplingStrategy, nNeighbors: k, kindSelection: kindSelection).keptRows(subset)
        }
        return dataset.keeping(kept)
    }
}

/// Runs `edit(round, current data)` round after round on the rows it keeps, with the stopping
/// rules of RepeatedENN and AllKNN; returns the kept rows of the original data.
func repeatEditing(
    _ dataset: Dataset, rounds: Range<Int>, stopWhenUnchanged: Bool, allowMinority: Bool,
    edit: (Int, Dataset) throws -> [Int]
) throws -> [Int] {
    let minority = dataset.minorityClass
    let minoritySize = dataset.rows(of: minority).count
    let classCount = dataset.classes.count
    var current = Array(0..<dataset.rows)
    for round in rounds {
        let data = current.map { dataset.row($0) }.flatMap { $0 }
        let labels = current.map { dataset.labels[$0] }
        let keptLocal = try data.withUnsafeBufferPointer { p in
            let subset = try Dataset(features: MatrixView(unchecked: p.baseAddress, rows: current.count, columns: dataset.columns, rowStride: dataset.columns),
                                     labels: labels, minimumClasses: 1)
            return try edit(round, subset)
        }
        let next = keptLocal.map { current[$0] }
        let unchanged = next.count == current.count
        let (classes, members) = groupByClass(next.map { dataset.labels[$0] })
        let minorityOvertaken = !allowMinority && zip(classes, members).contains { $0 != minority && $1.count < minoritySize }
        let vanished = classes.count < classCount
        current = next
        if (stopWhenUnchanged && unchanged) || minorityOvertaken || vanished { break }
    }
    return current
}

extension Dataset {
    /// Row `i` as an array.
    func row(_ i: Int) -> [Float] { Array(UnsafeBufferPointer(start: features.row(i), count: columns)) }
}
