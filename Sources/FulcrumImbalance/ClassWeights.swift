import FulcrumKernels

/// Per-class loss weights for imbalanced data (the "upweight" alternative to resampling).
///
/// Every form takes the class sizes `n_c` (`C` classes, `N = Σ n_c`) and returns one weight per
/// class in the order given; multiply a sample's loss by its class's weight.
public enum ClassWeights {
    /// Inverse frequency, scikit-learn's `class_weight="balanced"`: `w_c = N / (C · n_c)`.
    /// A balanced data set gets all ones; `Σ_c n_c w_c = N`, so the mean sample weight stays 1.
    ///
    /// - Throws: `invalidParameter` naming `counts` when empty or a count is not positive.
    public static func inverseFrequency(counts: [Int]) throws -> [Double] {
        try check(counts)
        let total = counts.reduce(0.0) { $0 + Double($1) }, classes = Double(counts.count)  // in Double: no overflow
        return counts.map { total / (classes * Double($0)) }
    }

    /// Effective-number weights ("Class-Balanced Loss Based on Effective Number of Samples",
    /// Cui et al., eq. 5 ff.): `E_c = (1 − βⁿᶜ) / (1 − β)`, `w_c ∝ 1 / E_c`, normalised so that
    /// `Σ_c w_c = C`. `β = 0` gives all ones; `β → 1` approaches inverse frequency.
    ///
    /// `1 − βⁿ` is computed as `−expm1(n·log β)`, accurate when `β` is close to 1.
    /// - Throws: `invalidParameter` naming `beta` outside `[0, 1)`, or `counts` as above.
    public static func effectiveNumber(counts: [Int], beta: Double) throws -> [Double] {
        try check(counts)
        guard beta >= 0, beta < 1 else {
            throw FulcrumError.invalidParameter(argument: "beta", value: "\(beta)", requirement: "in [0, 1)")
        }
        let inverse = counts.map { n -> Double in
            let effective = beta == 0 ? 1 : -Double.expm1(Double(n) * Double.log(beta)) / (1 - beta)
            return 1 / effective
        }
        let scale = Double(counts.count) / inverse.reduce(0, +)
        return inverse.map { $0 * scale }
    }

    /// Cost-sensitive weights: the inverse-frequency weight of each class times its
    /// misclassification cost, `w_c = cost_c · N / (C · n_c)` (equal costs give `inverseFrequency`).
    ///
    /// - Throws: `shapeMismatch` naming `costs` when its length differs from `counts`;
    ///   `invalidParameter` naming `costs` for a negative or non-finite cost, or `counts` as above.
    public static func costSensitive(counts: [Int], costs: [Double]) throws -> [Double] {
        guard costs.count == counts.count else {
            throw FulcrumError.shapeMismatch(argument: "costs", expected: "\(counts.count)", actual: "\(costs.count)")
        }
        if let bad = costs.first(where: { !($0 >= 0 && $0.isFinite) }) {
            throw FulcrumError.invalidParameter(argument: "costs", value: "\(bad)", requirement: "finite and >= 0")
        }
        return zip(try inverseFrequency(counts: counts), costs).map { $0 * $1 }
    }

    /// The weight of each sample: `weights[index of labels[i]]`, with `classes` listing the label of
    /// each weight.
    ///
    /// - Throws: `indexOutOfRange` naming `labels` for a label not in `classes`.
    public static func sampleWeights(labels: [Int], classes: [Int], weights: [Double]) throws -> [Double] {
        try checkCount(weights.count, classes.count, argument: "weights")
        let position = Dictionary(classes.enumerated().map { ($1, $0) }, uniquingKeysWith: { a, _ in a })
        return try labels.enumerated().map { i, label in
            guard let p = position[label] else {
                throw FulcrumError.indexOutOfRange(argument: "labels", position: i, value: label, validRange: "the listed classes")
            }
            return weights[p]
        }
    }

    static func check(_ counts: [Int]) throws {
        guard !counts.isEmpty else {
            throw FulcrumError.invalidParameter(argument: "counts", value: "[]", requirement: "at least one class")
        }
        if let bad = counts.first(where: { $0 <= 0 }) {
            throw FulcrumError.invalidParameter(argument: "counts", value: "\(bad)", requirement: "> 0 for every class")
        }
    }
}

func checkCount(_ count: Int, _ expected: Int, argument: String) throws {
    guard count == expected else {
        throw FulcrumError.shapeMismatch(argument: argument, expected: "\(expected)", actual: "\(count)")
    }
}
