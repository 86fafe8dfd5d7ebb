import FulcrumKernels

/// SMOTE followed by edited nearest neighbours ("A Study of the Behavior of Several Methods for
/// Balancing Machine Learning Training Data", Batista et al.): over-sample, then clean every
/// class of the over-sampled set with ENN (imbalanced-learn's default `sampling_strategy='all'`).
///
/// The result keeps the surviving rows of the over-sampled set in order: surviving originals
/// first, then surviving synthetic rows. `sampleIndices` is nil (synthetic rows have no index).
public struct SMOTEENN: Sampler {
    public var smote: SMOTE
    public var enn: EditedNearestNeighbours

    public init(smote: SMOTE = SMOTE(), enn: EditedNearestNeighbours = EditedNearestNeighbours(samplingStrategy: .all)) {
        self.smote = smote
        self.enn = enn
    }

    /// - Throws: the errors of `SMOTE` and of `EditedNearestNeighbours`.
    public func fitResample(features: MatrixView<Float>, labels: [Int], generator: inout some RandomNumberGenerator) throws -> Resampled {
        try cleanAfterSMOTE(smote, features: features, labels: labels, generator: &generator) { try enn.fitResample(features: $0, labels: $1) }
    }
}

/// SMOTE followed by Tomek-link removal (Batista et al., as `SMOTEENN`), every class cleaned by
/// default.
public struct SMOTETomek: Sampler {
    public var smote: SMOTE
    public var tomek: TomekLinks

    public init(smote: SMOTE = SMOTE(), tomek: TomekLinks = TomekLinks(samplingStrategy: .all)) {
        self.smote = smote
        self.tomek = tomek
    }

    /// - Throws: the errors of `SMOTE` and of `TomekLinks`.
    public func fitResample(features: MatrixView<Float>, labels: [Int], generator: inout some RandomNumberGenerator) throws -> Resampled {
        try cleanAfterSMOTE(smote, features: features, labels: labels, generator: &generator) { try tomek.fitResample(features: $0, labels: $1) }
    }
}

func cleanAfterSMOTE(
    _ smote: SMOTE, features: MatrixView<Float>, labels: [Int], generator: inout some RandomNumberGenerator,
    clean: (MatrixView<Float>, [Int]) throws -> Resampled
) throws -> Resampled {
    let over = try smote.fitResample(features: features, labels: labels, generator: &generator)
    var cleaned = try over.withFeatures { try clean($0, over.labels) }
    cleaned.sampleIndices = nil
    return cleaned
}
