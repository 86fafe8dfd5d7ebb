import FulcrumKernels

/// Random over-sampling: each new row repeats a uniformly drawn row of its class (bootstrap), or
/// with `shrinkage` set, a smoothed bootstrap ("ROSE: a package for binary imbalanced learning",
/// as in imbalanced-learn) that adds Gaussian noise `N(0, (s·h·σ_c)²)` per feature, with `σ_c` the
/// class's per-feature standard deviation (ddof 1), `s` the shrinkage and
/// `h = (4 / ((D + 2)·N))^{1/(D + 4)}` the normal-reference smoothing constant (`N` all rows).
///
/// The random over-sampling of "A systematic study of the class imbalance problem in
/// convolutional neural networks" (Buda et al.) is this sampler with `.auto`.
public struct RandomOverSampler: Sampler {
    public var samplingStrategy: SamplingStrategy
    /// `nil` for the plain bootstrap; `s ≥ 0` for the smoothed one.
    public var shrinkage: Double?

    public init(samplingStrategy: SamplingStrategy = .auto, shrinkage: Double? = nil) {
        self.samplingStrategy = samplingStrategy
        self.shrinkage = shrinkage
    }

    /// `sampleIndices` holds `0..<N` then the row each bootstrap copy was drawn from.
    ///
    /// - Throws: `invalidParameter` naming `shrinkage` when negative or not finite, or so large
    ///   that a noisy row overflows Float;
    ///   `emptyReduction` naming `features` when shrinkage is set and a resampled class has one
    ///   sample (its standard deviation is undefined); the input errors of `SMOTE`.
    public func fitResample(features: MatrixView<Float>, labels: [Int], generator: inout some RandomNumberGenerator) throws -> Resampled {
        if let s = shrinkage, !(s >= 0 && s.isFinite) {
            throw FulcrumError.invalidParameter(argument: "shrinkage", value: "\(s)", requirement: "finite and >= 0")
        }
        let dataset = try Dataset(features: features, labels: labels)
        let targets = try samplingStrategy.targets(classCounts: dataset.classCounts, purpose: .overSampling)
        let d = dataset.columns
        var drawn: [Int] = [], newLabels: [Int] = []
        var noise: [Float] = []
        for (label, count) in targets where count > 0 {
            let rows = dataset.rows(of: label)
            let start = drawn.count
            for _ in 0..<count { drawn.append(rows[generator.nextIndex(below: rows.count)]) }
            newLabels += Array(repeating: label, count: count)
            guard let s = shrinkage else { continue }
            guard rows.count > 1 else {
                throw FulcrumError.emptyReduction(argument: "features", reason: "class \(label) has one sample: its standard deviation (ddof 1) is undefined")
            }
            let h = Double.pow(4 / (Double(d + 2) * Double(dataset.rows)), 1 / Double(d + 4))
            let sigma = standardDeviations(dataset, rows)
            for r in start..<drawn.count {
                for c in 0..<d {
                    let value = Float(Double(features[drawn[r], c]) + generator.nextNormal() * s * h * sigma[c])
                    guard value.isFinite else {
                        throw FulcrumError.invalidParameter(argument: "shrinkage", value: "\(s)",
                                                            requirement: "small enough that the noisy rows of class \(label) fit in Float")
                    }
                    noise.append(value)
                }
            }
        }
        let synthetic = shrinkage == nil ? dataset.gather(drawn) : noise
        var result = try dataset.appending(synthetic, labels: newLabels)
        result.sampleIndices = Array(0..<dataset.rows) + drawn
        return result
    }

    func standardDeviations(_ dataset: Dataset, _ rows: [Int]) -> [Double] {
        (0..<dataset.columns).map { c in
            let mean = rows.reduce(0.0) { $0 + Double(dataset.features[$1, c]) } / Double(rows.count)
            let v = rows.reduce(0.0) { $0 + (Double(dataset.features[$1, c]) - mean) * (Double(dataset.features[$1, c]) - mean) }
            return (v / Double(rows.count - 1)).squareRoot()
        }
    }
}
