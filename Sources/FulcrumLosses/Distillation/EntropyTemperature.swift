import FulcrumKernels

/// The Entropy-Based Balance of "Mitigating the Accuracy-Robustness Trade-off via Multi-Teacher
/// Adversarial Distillation": each teacher's temperature is set so that the mean entropy of its
/// softened predictions, H̄(T) = (1/N)·Σ_n H(softmax(t_n/T)), equals a common target, so that
/// teachers of different confidence hand the student knowledge of the same scale.
///
/// H(softmax(z/T)) is nondecreasing in T (dH/dT = Var_p(z/T)/T ≥ 0), from the log of the number of
/// tied maxima as T → 0 to log C as T → ∞, so the solution is unique when it exists and a
/// safeguarded Newton iteration finds it: a bracket [lo, hi] with H̄(lo) ≤ H* ≤ H̄(hi) is grown
/// by doubling/halving from the initial T, then each step takes Newton's T − (H̄ − H*)/H̄′ when it
/// falls inside the bracket and bisects it otherwise. Each evaluation reads the logits twice per
/// row (the maximum, then a pass of Double vectors with one vector exponential per element; rows
/// in parallel), O(N·C); convergence is quadratic near the root, typically 5–10 evaluations.
public enum EntropyTemperature {
    /// H̄(T) and dH̄/dT, in Double.
    ///
    /// - Throws: `invalidParameter` (`temperature`) unless T is finite and > 0, and when T is so
    ///   small that the scaled logits x/T overflow Double; `nonFiniteValue` (`logits`) for a NaN or
    ///   ±∞ logit; `emptyReduction` (`logits`) for no rows or no columns.
    @specialized(where T == Float)
    @specialized(where T == Double)
    public static func meanEntropy<T: FulcrumFloat>(logits: MatrixView<T>, temperature: Double) throws -> (entropy: Double, derivative: Double) {
        guard temperature.isFinite, temperature > 0 else {
            throw FulcrumError.invalidParameter(argument: "temperature", value: "\(temperature)", requirement: "finite and > 0")
        }
        try validate(logits)
        let result = evaluate(logits, temperature)
        guard result.0.isFinite, result.1.isFinite else {
            throw FulcrumError.invalidParameter(argument: "temperature", value: "\(temperature)",
                                                requirement: "large enough that logits/temperature fit in Double")
        }
        return result
    }

    /// The temperature T > 0 with H̄(T) = `targetEntropy`.
    ///
    /// - Parameters:
    ///   - logits: N×C teacher logits (N, C ≥ 1).
    ///   - targetEntropy: H* in nats, in (H̄(0⁺), log C).
    ///   - initialTemperature: where the bracket search starts (> 0).
    ///   - tolerance: stop when |H̄(T) − H*| ≤ tolerance·max(1, H*) (≥ 1e-15).
    /// - Throws: `invalidParameter` naming `targetEntropy` when no temperature reaches it (outside
    ///   (0, log C), or below the entropy that ties at the maximum leave as T → 0),
    ///   `initialTemperature`, `tolerance`; and what `meanEntropy` throws.
    @specialized(where T == Float)
    @specialized(where T == Double)
    public static func solve<T: FulcrumFloat>(
        logits: MatrixView<T>, targetEntropy: Double, initialTemperature: Double = 1, tolerance: Double = 1e-12
    ) throws -> Double {
        try validate(logits)
        let classes = Double(logits.columns)
        guard targetEntropy.isFinite, targetEntropy > 0, targetEntropy < Double.log(classes) else {
            throw FulcrumError.invalidParameter(argument: "targetEntropy", value: "\(targetEntropy)",
                                                requirement: "in (0, log C) = (0, \(Double.log(classes)))")
        }
        guard initialTemperature.isFinite, initialTemperature > 0 else {
            throw FulcrumError.invalidParameter(argument: "initialTemperature", value: "\(initialTemperature)", requirement: "finite and > 0")
        }
        guard tolerance.isFinite, tolerance >= 1e-15 else {
            throw FulcrumError.invalidParameter(argument: "tolerance", value: "\(tolerance)", requirement: "finite and >= 1e-15")
        }
        let goal = tolerance * max(1, targetEntropy)
        var t = initialTemperature
        var (h, slope) = evaluate(logits, t)
        var (lo, hi) = (t, t)
        // Grow the bracket.
        var steps = 0
        while h < targetEntropy - goal {
            lo = t
            t *= 2
            (h, slope) = evaluate(logits, t)
            hi = t
            steps += 1
            if steps > 1100 || !h.isFinite { throw unreachable(targetEntropy) }
        }
        while h > targetEntropy + goal {
            hi = t
            t /= 2
            (h, slope) = evaluate(logits, t)
            lo = t
            steps += 1
            if steps > 1100 || !h.isFinite { throw unreachable(targetEntropy) }
        }
        // Safeguarded Newton inside [lo, hi].
        for _ in 0..<200 {
            let gap = h - targetEntropy
            if abs(gap) <= goal { return t }
            if gap < 0 { lo = t } else { hi = t }
            let newton = slope > 0 ? t - gap / slope : .nan
            t = newton > lo && newton < hi ? newton : (lo + hi) / 2
            if hi - lo <= 4 * hi * Double.ulpOfOne { return t }
            (h, slope) = evaluate(logits, t)
        }
        return t
    }

    static func unreachable(_ target: Double) -> FulcrumError {
        .invalidParameter(argument: "targetEntropy", value: "\(target)",
                          requirement: "reachable: above the entropy of the tied maxima as T → 0")
    }

    static func validate<T: FulcrumFloat>(_ logits: MatrixView<T>) throws {
        guard logits.rows > 0, logits.columns > 0 else {
            throw FulcrumError.emptyReduction(argument: "logits", reason: "a mean entropy over no rows or no classes")
        }
        for n in 0..<logits.rows {
            if let j = (0..<logits.columns).first(where: { !logits[n, $0].isFinite }) {
                throw FulcrumError.nonFiniteValue(argument: "logits", row: n, column: j)
            }
        }
    }

    /// H̄(T) and dH̄/dT = mean of Var_p(z)/T with z = x/T. Rows run in fixed parallel blocks
    /// added in block order, so the result does not depend on the thread count.
    static func evaluate<T: FulcrumFloat>(_ logits: MatrixView<T>, _ temperature: Double) -> (Double, Double) {
        let inverse = 1 / temperature
        let sums = blockSums(rows: logits.rows, classes: logits.columns) { range in
            var total = EntropySums()
            for n in range { total.add(rowEntropy(logits.row(n), classes: logits.columns, inverse: inverse)) }
            return total
        }
        let count = Double(logits.rows)
        return (sums.entropy / count, sums.derivative / count)
    }

    /// One row's H(softmax(z)) and Var_p(z)/T (z = x·`inverse`): the maximum in T (exact: scaling
    /// by 1/T > 0 keeps the order), then one pass in Double vectors, the logits widened, with
    /// e = e^{z−m} summed with e·(z − m) and e·(z − m)².
    @inline(__always)
    static func rowEntropy<T: FulcrumFloat>(_ row: UnsafePointer<T>, classes: Int, inverse: Double) -> EntropySums {
        var high = T.Vector(repeating: -.infinity)
        forEachVector(T.self, from: 0, to: classes) { j, count in
            high = T.maximum(high, row.loadVector(at: j, count: count, padding: -.infinity))
        }
        let m = Double(T.largestLane(high)) * inverse
        let (scale, shift) = (Double.Vector(repeating: inverse), Double.Vector(repeating: m))
        var s = Double.Vector(), a = s, b = s
        forEachVector(Double.self, from: 0, to: classes) { j, count in
            let d = Double.Vector(row.loadVector(at: j, count: count, as: SIMD4<T>.self)) * scale - shift
            var e = Double.exponentialOfShift(d)
            if count < Double.vectorWidth { e = Double.keepingLanes(below: count, of: e, fill: 0) }
            let ed = e * d
            s += e
            a += ed
            b = Double.multiplyAdd(ed, d, b)
        }
        let sum = Double.sumOfLanes(s), mean = Double.sumOfLanes(a) / sum
        return EntropySums(entropy: Double.log(sum) - mean, derivative: max(0, Double.sumOfLanes(b) / sum - mean * mean) * inverse)
    }
}

/// Entropy and derivative sums of a block of rows.
struct EntropySums: BlockSummable {
    var entropy = 0.0, derivative = 0.0

    mutating func add(_ other: EntropySums) {
        entropy += other.entropy
        derivative += other.derivative
    }
}
