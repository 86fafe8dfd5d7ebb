import FulcrumKernels
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Mixup batch construction ("mixup: Beyond Empirical Risk Minimization"), which "On the
/// Limitations of Temperature Scaling for Distributions with Overlaps" shows to calibrate where
/// temperature scaling cannot: with λ ~ Beta(α, α) and a random permutation σ of the batch,
///
///     x̃ᵢ = λ·xᵢ + (1 − λ)·x_σ(i),    ỹᵢ = λ·onehot(yᵢ) + (1 − λ)·onehot(y_σ(i)).
///
/// Randomness comes only from the caller's generator: the same seed gives the same λ, σ and
/// batch on every platform (Fisher–Yates and Marsaglia–Tsang written here, not library shuffles).
public enum Mixup {
    /// λ and the permutation a batch was mixed with.
    public struct Batch: Sendable, Equatable {
        /// The mixing coefficient λ ∈ [0, 1].
        public var lambda: Double
        /// σ: row i was mixed with row `permutation[i]`.
        public var permutation: [Int]
    }

    /// Mixes `inputs` (n×d) and the one-hot `labels` (n, in `0..<softLabels.columns`) into
    /// `mixedInputs` (n×d) and `softLabels` (n×C), with one λ ~ Beta(`alpha`, `alpha`) for the
    /// batch, as the paper does. O(n·(d + C)).
    ///
    /// - Throws: `invalidParameter` naming `alpha` unless finite and > 0; `shapeMismatch` naming
    ///   `labels`, `mixedInputs` or `softLabels`; `indexOutOfRange` naming `labels`.
    public static func mix<G: RandomNumberGenerator>(
        inputs: MatrixView<Float>, labels: UnsafeBufferPointer<Int32>, alpha: Double,
        mixedInputs: MutableMatrixView<Float>, softLabels: MutableMatrixView<Float>, using generator: inout G
    ) throws -> Batch {
        let (n, d) = (inputs.rows, inputs.columns)
        try checkLength(labels.count, n, argument: "labels")
        guard mixedInputs.rows == n, mixedInputs.columns == d else {
            throw FulcrumError.shapeMismatch(argument: "mixedInputs", expected: "\(n)x\(d)", actual: mixedInputs.shape)
        }
        guard softLabels.rows == n else {
            throw FulcrumError.shapeMismatch(argument: "softLabels", expected: "\(n) rows", actual: softLabels.shape)
        }
        try checkLabels(labels, classCount: softLabels.columns)
        let lambda = try sampleBeta(alpha: alpha, using: &generator)
        let permutation = randomPermutation(n, using: &generator)
        let (a, b) = (Float(lambda), Float(1 - lambda))
        for i in 0..<n {
            let (x, other, out) = (inputs.row(i), inputs.row(permutation[i]), mixedInputs.row(i))
            for j in 0..<d { out[j] = a * x[j] + b * other[j] }
            let soft = softLabels.row(i)
            soft.update(repeating: 0, count: softLabels.columns)
            soft[Int(labels[i])] += a
            soft[Int(labels[permutation[i]])] += b
        }
        return Batch(lambda: lambda, permutation: permutation)
    }

    /// One draw of Beta(α, α) = G₁/(G₁ + G₂) with Gᵢ ~ Gamma(α) (Marsaglia–Tsang, with the
    /// U^{1/α} boost for α < 1).
    ///
    /// - Throws: `invalidParameter` naming `alpha` unless finite and > 0.
    public static func sampleBeta<G: RandomNumberGenerator>(alpha: Double, using generator: inout G) throws -> Double {
        guard alpha.isFinite, alpha > 0 else {
            throw FulcrumError.invalidParameter(argument: "alpha", value: "\(alpha)", requirement: "finite and > 0")
        }
        let g1 = sampleGamma(alpha, &generator), g2 = sampleGamma(alpha, &generator)
        return g1 + g2 > 0 ? g1 / (g1 + g2) : (unit(&generator) < 0.5 ? 0 : 1)
    }

    /// A uniformly random permutation of 0..<n (Fisher–Yates, unbiased bounded draws).
    static func randomPermutation<G: RandomNumberGenerator>(_ n: Int, using generator: inout G) -> [Int] {
        var p = Array(0..<n)
        var i = n - 1
        while i > 0 {
            let j = Int(generator.next(upperBound: UInt64(i + 1)))
            p.swapAt(i, j)
            i -= 1
        }
        return p
    }

    static func unit<G: RandomNumberGenerator>(_ g: inout G) -> Double { Double(g.next() >> 11) * 0x1p-53 }

    /// Standard normal by Box–Muller (one of the pair).
    static func normal<G: RandomNumberGenerator>(_ g: inout G) -> Double {
        let u = 1 - unit(&g)  // (0, 1]
        let v = unit(&g)
        return (-2 * Double.log(u)).squareRoot() * cos(2 * .pi * v)
    }

    /// Gamma(shape, 1) by Marsaglia and Tsang's squeeze method.
    static func sampleGamma<G: RandomNumberGenerator>(_ shape: Double, _ g: inout G) -> Double {
        if shape < 1 {
            let boost = Double.pow(1 - unit(&g), 1 / shape)
            return sampleGamma(shape + 1, &g) * boost
        }
        let d = shape - 1.0 / 3, c = 1 / (9 * d).squareRoot()
        while true {
            var x: Double, v: Double
            repeat {
                x = normal(&g)
                v = 1 + c * x
            } while v <= 0
            v = v * v * v
            let u = 1 - unit(&g)
            if u < 1 - 0.0331 * x * x * x * x { return d * v }
            if Double.log(u) < 0.5 * x * x + d * (1 - v + Double.log(v)) { return d * v }
        }
    }
}
