import FulcrumKernels

/// Temperature sampling of classes, domains or languages ("Upsample or Upweight? Balanced
/// Training on Heavily Imbalanced Datasets", Li et al.): draw from class `c` with probability
/// `p_c = n_c^{1/τ} / Σ_j n_j^{1/τ}`. `τ = 1` samples in proportion to the data, `τ → ∞`
/// uniformly over classes, `τ < 1` sharpens towards the largest class (shared equally by the
/// classes tied for largest as `τ → 0`).
///
/// The paper's equivalent upweighting ("Scalarization") keeps proportional sampling and weights
/// class `c`'s loss by `p_c / q_c` with `q_c = n_c / N`: the expected full gradient is the same,
/// the stochastic gradient variance is not (the paper's point).
public enum TemperatureSampling {
    /// `p_c = n_c^{1/τ} / Σ n_j^{1/τ}`, computed as a softmax of `(log n_c − log n_max) / τ ≤ 0`
    /// (no overflow for any `τ`: the largest class has weight exactly 1).
    ///
    /// - Throws: `invalidParameter` naming `temperature` unless positive and finite (or +∞ for
    ///   uniform), or `counts` when empty or a count is not positive.
    public static func probabilities(counts: [Int], temperature: Double) throws -> [Double] {
        try ClassWeights.check(counts)
        guard temperature > 0, !temperature.isNaN else {
            throw FulcrumError.invalidParameter(argument: "temperature", value: "\(temperature)", requirement: "> 0")
        }
        let top = Double.log(Double(counts.max()!))
        let exps = counts.map { Double.exp((Double.log(Double($0)) - top) / temperature) }
        let total = exps.reduce(0, +)
        return exps.map { $0 / total }
    }

    /// The Scalarization weights with the same expected gradient: `w_c = p_c / q_c`,
    /// `q_c = n_c / N`.
    public static func scalarizationWeights(counts: [Int], temperature: Double) throws -> [Double] {
        let p = try probabilities(counts: counts, temperature: temperature)
        let total = counts.reduce(0.0) { $0 + Double($1) }  // in Double: huge counts cannot overflow
        return zip(p, counts).map { $0 / (Double($1) / total) }
    }

    /// Draws `count` class positions from `probabilities` (inverse CDF on `generator.nextUnit()`);
    /// they are weights, and need not sum to 1.
    ///
    /// - Throws: `invalidParameter` naming `probabilities` when empty, negative, non-finite or
    ///   summing to zero; `count` when negative.
    public static func sample(_ count: Int, probabilities: [Double], generator: inout some RandomNumberGenerator) throws -> [Int] {
        guard count >= 0 else { throw FulcrumError.invalidParameter(argument: "count", value: "\(count)", requirement: ">= 0") }
        guard let largest = probabilities.max(), probabilities.allSatisfy({ $0 >= 0 && $0.isFinite }), largest > 0 else {
            throw FulcrumError.invalidParameter(argument: "probabilities", value: "\(probabilities)", requirement: "non-empty, finite, >= 0, with a positive sum")
        }
        // In units of a power of two near the largest weight (an exact scaling), so that the
        // running sum stays below 2·probabilities.count instead of overflowing.
        let scale = largest.binade
        var cumulative: [Double] = []
        var running = 0.0
        for p in probabilities { running += p / scale; cumulative.append(running) }
        let total = running
        return (0..<count).map { _ in
            let u = generator.nextUnit() * total
            return cumulative.firstIndex { u < $0 } ?? probabilities.lastIndex { $0 > 0 }!
        }
    }
}

/// The Cooldown schedule of "Upsample or Upweight?": sample with a high temperature early (fast
/// convergence on the small classes), then lower it (less over-fitting to their few samples).
///
/// `τ(step) = initialTemperature` before `cooldownStart`, then moves linearly to
/// `finalTemperature` over `cooldownSteps` steps (0: a single switch) and stays there. The
/// paper's exact switch points are training-recipe choices; this type exposes them as parameters.
public struct CooldownSchedule: Sendable, Equatable {
    public var initialTemperature: Double
    public var finalTemperature: Double
    public var cooldownStart: Int
    public var cooldownSteps: Int

    /// - Throws: `invalidParameter` naming the temperature that is not positive, or the step
    ///   count that is negative.
    public init(initialTemperature: Double, finalTemperature: Double, cooldownStart: Int, cooldownSteps: Int = 0) throws {
        for (name, t) in [("initialTemperature", initialTemperature), ("finalTemperature", finalTemperature)] where !(t > 0) {
            throw FulcrumError.invalidParameter(argument: name, value: "\(t)", requirement: "> 0")
        }
        for (name, s) in [("cooldownStart", cooldownStart), ("cooldownSteps", cooldownSteps)] where s < 0 {
            throw FulcrumError.invalidParameter(argument: name, value: "\(s)", requirement: ">= 0")
        }
        self.initialTemperature = initialTemperature
        self.finalTemperature = finalTemperature
        self.cooldownStart = cooldownStart
        self.cooldownSteps = cooldownSteps
    }

    /// The temperature at `step` (steps before 0 count as 0). On the ramp it is
    /// (1 − f)·τ₀ + f·τ₁, which stays +∞ while an infinite (uniform) temperature has weight; a
    /// term of weight 0 is left out (so the ramp starts at exactly τ₀ even when τ₁ = +∞).
    public func temperature(at step: Int) -> Double {
        if step < cooldownStart { return initialTemperature }
        let elapsed = step - cooldownStart  // no overflow: 0 <= cooldownStart <= step
        if elapsed >= cooldownSteps { return finalTemperature }
        let f = Double(elapsed) / Double(cooldownSteps)
        func weighted(_ weight: Double, _ temperature: Double) -> Double { weight == 0 ? 0 : weight * temperature }
        return weighted(1 - f, initialTemperature) + weighted(f, finalTemperature)
    }

    /// The sampling probabilities at `step`.
    public func probabilities(counts: [Int], at step: Int) throws -> [Double] {
        try TemperatureSampling.probabilities(counts: counts, temperature: temperature(at: step))
    }
}
