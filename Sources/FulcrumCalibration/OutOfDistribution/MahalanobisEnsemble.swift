import FulcrumKernels

/// The paper's feature ensemble: Mahalanobis scores of several layers combined with weights,
/// score(x) = Σ_ℓ α_ℓ·M_ℓ(x) ("A Simple Unified Framework for Detecting Out-of-Distribution
/// Samples and Adversarial Attacks", Sec. 2.2, where the α_ℓ come from a logistic regression on
/// validation scores).
public struct MahalanobisEnsemble: Sendable {
    /// One fitted detector per layer.
    public let detectors: [MahalanobisDetector]
    /// The layer weights α_ℓ.
    public let weights: [Double]

    /// - Throws: `shapeMismatch` naming `weights` when their count differs from the detectors';
    ///   `nonFiniteValue` naming `weights`.
    public init(detectors: [MahalanobisDetector], weights: [Double]) throws {
        try checkLength(weights.count, detectors.count, argument: "weights")
        if let bad = weights.firstIndex(where: { !$0.isFinite }) {
            throw FulcrumError.nonFiniteValue(argument: "weights", row: bad, column: 0)
        }
        self.detectors = detectors
        self.weights = weights
    }

    /// Writes Σ_ℓ α_ℓ·M_ℓ(x) for every sample into `scores`; `layers[ℓ]` holds layer ℓ's features
    /// of the same n samples. Accumulated in Double; a layer of weight 0 is not scored (it adds
    /// nothing, even to a sample whose layer score is −∞). O(Σ_ℓ n·d_ℓ·(d_ℓ + C)).
    ///
    /// - Throws: `shapeMismatch` naming `layers` or `scores`; the errors of
    ///   `MahalanobisDetector.scores(_:into:predictedClasses:)`; `invalidParameter` naming
    ///   `layers` for a sample whose distance overflows (a score of −∞) in layers whose weights
    ///   differ in sign, where the sum would be ∞ − ∞.
    public func scores(layers: [MatrixView<Float>], into scores: UnsafeMutableBufferPointer<Float>) throws {
        try checkLength(layers.count, detectors.count, argument: "layers")
        let n = scores.count
        var total = [Double](repeating: 0, count: n)
        var layerScores = [Float](repeating: 0, count: n)
        for (l, detector) in detectors.enumerated() where weights[l] != 0 {
            guard layers[l].rows == n else {
                throw FulcrumError.shapeMismatch(argument: "layers[\(l)]", expected: "\(n) rows", actual: layers[l].shape)
            }
            try layerScores.withUnsafeMutableBufferPointer { try detector.scores(layers[l], into: $0) }
            for i in 0..<n { total[i] += weights[l] * Double(layerScores[i]) }
        }
        if let i = total.firstIndex(where: \.isNaN) {
            throw FulcrumError.invalidParameter(argument: "layers", value: "sample \(i)",
                                                requirement: "no distance overflow in layers whose weights differ in sign")
        }
        for i in 0..<n { scores[i] = Float(total[i]) }
    }
}
