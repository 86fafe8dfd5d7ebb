import FulcrumKernels

/// SMOTE-NC, SMOTE for mixed continuous and categorical features ("SMOTE: Synthetic Minority
/// Over-sampling Technique", section 6.1), with imbalanced-learn's definitions.
///
/// Categorical columns hold category codes (any Float value; equal values are the same
/// category). Let `m` be the median over the continuous features of the minority class's
/// standard deviation (ddof 0). Distances are Euclidean on the continuous features plus `m²/2`
/// for every categorical feature on which two samples differ (one-hot codes of height `m/2`).
/// A synthetic row interpolates the continuous features as SMOTE does and gives each categorical
/// feature the most frequent category among the seed's `kNeighbors` neighbours (ties broken
/// uniformly at random by `generator`, as imbalanced-learn does).
public struct SMOTENC: Sampler {
    /// Indices of the categorical columns.
    public var categoricalFeatures: [Int]
    public var samplingStrategy: SamplingStrategy
    public var kNeighbors: Int

    public init(categoricalFeatures: [Int], samplingStrategy: SamplingStrategy = .auto, kNeighbors: Int = 5) {
        self.categoricalFeatures = categoricalFeatures
        self.samplingStrategy = samplingStrategy
        self.kNeighbors = kNeighbors
    }

    /// - Throws: the errors of `SMOTE`; `indexOutOfRange` naming `categoricalFeatures` for a
    ///   column outside `0..<D`; `invalidParameter` naming `categoricalFeatures` when every column
    ///   is categorical (use `SMOTEN`) or none is.
    public func fitResample(features: MatrixView<Float>, labels: [Int], generator: inout some RandomNumberGenerator) throws -> Resampled {
        let d = features.columns
        for (p, c) in categoricalFeatures.enumerated() where !(0..<d).contains(c) {
            throw FulcrumError.indexOutOfRange(argument: "categoricalFeatures", position: p, value: c, validRange: "0..<\(d)")
        }
        let categorical = Array(Set(categoricalFeatures)).sorted()
        let continuous = (0..<d).filter { !categorical.contains($0) }
        guard !categorical.isEmpty, !continuous.isEmpty else {
            throw FulcrumError.invalidParameter(
                argument: "categoricalFeatures", value: "\(categoricalFeatures)",
                requirement: "some but not all of the \(d) columns (all categorical: use SMOTEN; none: use SMOTE)")
        }
        let dataset = try Dataset(features: features, labels: labels)
        let targets = try samplingStrategy.targets(classCounts: dataset.classCounts, purpose: .overSampling)
        for (label, count) in targets where count > 0 { try dataset.requireNeighbors(kNeighbors, in: label, argument: "kNeighbors") }
        let halfMedian = medianStandardDeviation(dataset, columns: continuous, rows: dataset.rows(of: dataset.minorityClass)) / 2
        // The encoded data: continuous columns, then one one-hot block per categorical column.
        let categories = categorical.map { c in Array(Set((0..<dataset.rows).map { features[$0, c] })).sorted() }
        let width = continuous.count + categories.reduce(0) { $0 + $1.count }
        var encoded = [Float](repeating: 0, count: dataset.rows * width)
        for i in 0..<dataset.rows {
            for (e, c) in continuous.enumerated() { encoded[i * width + e] = features[i, c] }
            var offset = continuous.count
            for (f, c) in categorical.enumerated() {
                encoded[i * width + offset + categories[f].firstIndex(of: features[i, c])!] = Float(halfMedian)
                offset += categories[f].count
            }
        }
        var plan = InterpolationPlan()
        var neighborsOf: [Int: [Int]] = [:]
        try encoded.withUnsafeBufferPointer { p in
            let view = MatrixView(unchecked: p.baseAddress, rows: dataset.rows, columns: width, rowStride: width)
            let encodedSet = try Dataset(features: view, labels: labels)
            for (label, count) in targets where count > 0 {
                let rows = dataset.rows(of: label)
                let found = try encodedSet.neighborsWithin(rows, k: kNeighbors)
                for (p, row) in rows.enumerated() { neighborsOf[row] = found[p] }
                plan.addUniform(count: count, seeds: rows, neighbors: found, stepSize: 1, label: label, generator: &generator)
            }
        }
        // The categorical vote of each synthetic row, drawn in plan order after the plan.
        var votes: [[Float]] = []
        for seed in plan.seedRows() {
            votes.append(categorical.map { c in
                mostFrequent(neighborsOf[seed]!.map { features[$0, c] }, generator: &generator)
            })
        }
        return try dataset.appending(rows: plan.count, labels: plan.labels) { target in
            plan.write(from: features, into: target)
            for (r, vote) in votes.enumerated() {
                for (f, c) in categorical.enumerated() { target[r * d + c] = vote[f] }
            }
        }
    }
}

/// Median over `columns` of the population standard deviation of `rows`.
func medianStandardDeviation(_ dataset: Dataset, columns: [Int], rows: [Int]) -> Double {
    let deviations = columns.map { c -> Double in
        let mean = rows.reduce(0.0) { $0 + Double(dataset.features[$1, c]) } / Double(rows.count)
        let v = rows.reduce(0.0) { $0 + (Double(dataset.features[$1, c]) - mean) * (Double(dataset.features[$1, c]) - mean) }
        return (v / Double(rows.count)).squareRoot()
    }.sorted()
    let n = deviations.count
    return n % 2 == 1 ? deviations[n / 2] : (deviations[n / 2 - 1] + deviations[n / 2]) / 2
}

/// The most frequent value; ties broken uniformly at random among the tied values (in
/// ascending order, one draw).
func mostFrequent(_ values: [Float], generator: inout some RandomNumberGenerator) -> Float {
    var counts: [Float: Int] = [:]
    for v in values { counts[v, default: 0] += 1 }
    let top = counts.values.max()!
    let tied = counts.filter { $0.value == top }.keys.sorted()
    return tied.count == 1 ? tied[0] : tied[generator.nextIndex(below: tied.count)]
}
