import FulcrumKernels

/// Prior-compensating thresholding ("A systematic study of the class imbalance problem in
/// convolutional neural networks", Buda et al.): a classifier trained on imbalanced data
/// outputs `p(c | x)` that carry the training priors `π_c`; dividing by them and renormalising,
/// `p̃(c | x) = (p(c | x) / π_c) / Σ_j p(j | x) / π_j`, gives the scores of a classifier
/// trained with balanced classes, and `argmax_c p̃` is the thresholded decision.
public enum PriorCompensation {
    /// Rescales each row of `probabilities` (`M × C`, row-major) by `1 / priors[c]` and
    /// renormalises the row in place. A row of zeros is left at 0.
    ///
    /// Each row is first scaled by a power of two near its largest ratio `p(c | x) / π_c` (exact,
    /// and undone by the normalisation), so that huge probabilities or tiny priors cannot
    /// overflow the sum.
    ///
    /// - Throws: `shapeMismatch` naming `probabilities` when its count is not a multiple of
    ///   `priors.count`; `invalidParameter` naming `priors` for a non-positive or non-finite
    ///   prior; `nonFiniteValue` naming `probabilities` for a NaN, ±∞ or negative entry.
    public static func compensate(_ probabilities: inout [Double], priors: [Double]) throws {
        let c = priors.count
        guard c > 0, probabilities.count % c == 0 else {
            throw FulcrumError.shapeMismatch(argument: "probabilities", expected: "a multiple of \(c) (rows x classes)", actual: "\(probabilities.count)")
        }
        if let bad = priors.first(where: { !($0 > 0 && $0.isFinite) }) {
            throw FulcrumError.invalidParameter(argument: "priors", value: "\(bad)", requirement: "finite and > 0")
        }
        if let bad = probabilities.firstIndex(where: { !($0 >= 0 && $0.isFinite) }) {
            throw FulcrumError.nonFiniteValue(argument: "probabilities", row: bad / c, column: bad % c)
        }
        for row in 0..<(probabilities.count / c) {
            // 2^(m − 1) < the largest ratio < 2^(m + 1), so every ratio scaled by 2^−m is below 2
            // and the largest above 1/2.
            let exponents = zip(probabilities[row * c ..< (row + 1) * c], priors).lazy
                .filter { p, _ in p > 0 }.map { p, prior in p.exponent - prior.exponent }
            guard let m = exponents.max() else { continue }  // a row of zeros
            var sum = 0.0
            for j in 0..<c {
                probabilities[row * c + j] = Double(sign: .plus, exponent: -m, significand: probabilities[row * c + j]) / priors[j]
                sum += probabilities[row * c + j]
            }
            for j in 0..<c { probabilities[row * c + j] /= sum }
        }
    }

    /// The thresholded decision of each row: `argmax_c p(c | x) / π_c` (ties to the lower class).
    public static func predict(_ probabilities: [Double], priors: [Double]) throws -> [Int] {
        var scores = probabilities
        try compensate(&scores, priors: priors)
        let c = priors.count
        return (0..<(scores.count / c)).map { row in
            var best = 0
            for j in 1..<c where scores[row * c + j] > scores[row * c + best] { best = j }
            return best
        }
    }
}
