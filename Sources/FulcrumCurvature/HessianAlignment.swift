import FulcrumKernels

/// The Hessian-alignment regularisers of "Understanding Hessian Alignment for Domain
/// Generalization" (Hemati, Zhang, Estiri & Chen, ICCV 2023) for a softmax cross-entropy
/// classifier head, with their exact gradients with respect to the head's weights and bias.
///
/// With m training domains, domain losses ℓ_e (each the head's mean loss on its own data), their
/// gradients g_e and Hessians H_e with respect to θ = (W, b), and the averages ḡ = (1/m)·Σ g_e,
/// H̄ = (1/m)·Σ H_e (the gradient and Hessian of the mean loss (1/m)·Σ ℓ_e), the paper trains
/// (1/m)·Σ ℓ_e + R with
///
///     R_HGP        = (α/m)·Σ_e ‖H_e·g_e − H̄·ḡ‖² + (β/m)·Σ_e ‖g_e − ḡ‖²
///     R_Hutchinson = (α/m)·Σ_e ‖D_e − D̄‖²       + (β/m)·Σ_e ‖g_e − ḡ‖²
///
/// where D_e = (1/S)·Σ_s v_s ∘ H_e·v_s is Hutchinson's estimate of diag(H_e) from S Rademacher
/// probes and D̄ = (1/S)·Σ_s v_s ∘ H̄·v_s. HGP matches the Hessian–gradient products (the gradient
/// of ½‖g_e‖²), Hutchinson matches the Hessian diagonals; the β term matches the gradients. The
/// forms and the equal 1/m domain weights follow the authors' reference implementation. Here
/// all domains share the same probes (common random numbers), so D̄ is exactly the mean of the
/// D_e; the reference implementation draws separate probes for every domain and for the mean.
///
/// **Gradients.** The regulariser is trained with, so its gradient with respect to θ is returned
/// too, derived for the linear head rather than by double backward. With δ_e = H_e·g_e − H̄·ḡ,
/// Δ = Σ_e δ_e and T_e the third derivative of ℓ_e (`LinearHeadHessian.thirdDerivative`):
///
///     ∇R_HGP = (2α/m)·[Σ_e (H_e·H_e·δ_e + T_e[g_e, δ_e]) − H̄·H̄·Δ − (1/m)·Σ_e T_e[ḡ, Δ]]
///              + (2β/m)·Σ_e H_e·(g_e − ḡ)
///     ∇R_Hutch = (2α/(m·S))·Σ_e Σ_s T_e[(D_e − D̄) ∘ v_s, v_s] + (2β/m)·Σ_e H_e·(g_e − ḡ)
///
/// (the terms with ∂ḡ and ∂D̄ cancel because the deviations from a mean sum to zero; the
/// reference H̄·ḡ is not a mean of the H_e·g_e, so its derivative stays). The tests check both
/// against central finite differences of the value.
///
/// **Cost.** HGP: about 8 Hessian-vector products and one third-derivative contraction (5 GEMMs)
/// per domain. Hutchinson: S products (batched) and one contraction with S pairs per domain.
public enum HessianAlignment {
    /// The value of a regulariser, its two terms, and its gradient with respect to θ.
    public struct Penalty<Scalar: FulcrumFloat>: Sendable {
        /// α·hessianTerm + β·gradientTerm.
        public var value: Double
        /// (1/m)·Σ_e ‖H_e·g_e − H̄·ḡ‖² (HGP) or (1/m)·Σ_e ‖D_e − D̄‖² (Hutchinson), before α.
        public var hessianTerm: Double
        /// (1/m)·Σ_e ‖g_e − ḡ‖², before β.
        public var gradientTerm: Double
        /// ∇_θ value, flattened like the operators' parameters (vec(W), then b).
        public var gradient: [Scalar]
    }

    /// R_HGP and its gradient for the domains' heads.
    ///
    /// - Parameters:
    ///   - domains: one operator per training domain, **all prepared at the same weights and bias**
    ///     (on each domain's features and targets) with the same loss options; at least 2.
    ///   - alpha: weight α ≥ 0 of the Hessian–gradient term.
    ///   - beta: weight β ≥ 0 of the gradient term.
    /// - Throws: `FulcrumError.invalidParameter` for fewer than 2 domains or a negative or
    ///   non-finite weight; `shapeMismatch` when the domains' parameter shapes differ.
    @specialized(where T == Float)
    @specialized(where T == Double)
    public static func hessianGradientProduct<T: FulcrumFloat>(
        domains: [LinearHeadHessian<T>], alpha: Double, beta: Double
    ) throws -> Penalty<T> {
        try validate(domains, alpha, beta)
        let m = Double(domains.count)
        let n = domains[0].dimension
        let g = try domains.map { try gradientVector($0) }
        let gMean = mean(g)
        let a = try zip(domains, g).map { try apply($0, $1) }           // H_e·g_e
        let r = mean(try domains.map { try apply($0, gMean) })           // H̄·ḡ
        let delta = a.map { subtract($0, r) }
        let total = sum(delta)                                           // Δ
        let hessianTerm = delta.map(squaredNorm).reduce(0, +) / m
        let gradientTerm = g.map { squaredNorm(subtract($0, gMean)) }.reduce(0, +) / m

        var gradient = [Double](repeating: 0, count: n)
        let hBarDelta = mean(try domains.map { try apply($0, total) })  // H̄·Δ
        let scaledTotal = total.map { -$0 / m }
        for (e, domain) in domains.enumerated() {
            // H_e·(H_e·δ_e) − H_e·(H̄·Δ)/m + β/α-weighted H_e·(g_e − ḡ), all through H_e: one product
            // of the combination H_e·δ_e − H̄·Δ/m, plus H_e·(g_e − ḡ).
            let hDelta = try apply(domain, delta[e])
            let combined = zip(hDelta, hBarDelta).map { $0 - $1 / m }
            add(try apply(domain, combined), scaledBy: 2 * alpha / m, to: &gradient)
            add(try apply(domain, subtract(g[e], gMean)), scaledBy: 2 * beta / m, to: &gradient)
            // T_e[g_e, δ_e] − (1/m)·T_e[ḡ, Δ] in one contraction with two pairs.
            let t = try thirdDerivative(domain, first: [g[e], gMean], second: [delta[e], scaledTotal])
            add(t, scaledBy: 2 * alpha / m, to: &gradient)
        }
        return Penalty(value: alpha * hessianTerm + beta * gradientTerm, hessianTerm: hessianTerm,
                       gradientTerm: gradientTerm, gradient: gradient.map { T($0) })
    }

    /// R_Hutchinson and its gradient, with `probes` Rademacher probes drawn from `generator` and
    /// shared by all domains (the authors use 300 per estimate).
    ///
    /// - Throws: as `hessianGradientProduct`, and `invalidParameter` for `probes < 1`.
    public static func hutchinson<T: FulcrumFloat, G: RandomNumberGenerator>(
        domains: [LinearHeadHessian<T>], alpha: Double, beta: Double, probes: Int, using generator: inout G
    ) throws -> Penalty<T> {
        try validate(domains, alpha, beta)
        guard probes >= 1 else {
            throw FulcrumError.invalidParameter(argument: "probes", value: "\(probes)", requirement: ">= 1")
        }
        let v: Matrix<T> = try RademacherProbes.matrix(rows: probes, count: domains[0].dimension, using: &generator)
        return try hutchinson(domains: domains, alpha: alpha, beta: beta, probes: v)
    }

    /// R_Hutchinson with the probes as the rows of `v`: the body of the public `hutchinson`, apart
    /// from the generator so that it runs specialized for T whatever the caller's generator.
    @specialized(where T == Float)
    @specialized(where T == Double)
    static func hutchinson<T: FulcrumFloat>(domains: [LinearHeadHessian<T>], alpha: Double, beta: Double, probes v: Matrix<T>) throws -> Penalty<T> {
        let m = Double(domains.count), s = v.rows
        let n = domains[0].dimension
        var hv = v
        // D_e = (1/S)·Σ_s v_s ∘ H_e·v_s.
        var diagonals: [[Double]] = []
        for domain in domains {
            try v.withView { vv in try hv.withMutableView { try domain.apply(vv, into: $0) } }
            var d = [Double](repeating: 0, count: n)
            for i in 0..<s { for j in 0..<n { d[j] += Double(v[i, j]) * Double(hv[i, j]) / Double(s) } }
            diagonals.append(d)
        }
        let dMean = mean(diagonals)
        let deviations = diagonals.map { subtract($0, dMean) }
        let hessianTerm = deviations.map(squaredNorm).reduce(0, +) / m
        let g = try domains.map { try gradientVector($0) }
        let gMean = mean(g)
        let gradientTerm = g.map { squaredNorm(subtract($0, gMean)) }.reduce(0, +) / m

        var gradient = [Double](repeating: 0, count: n)
        for (e, domain) in domains.enumerated() {
            add(try apply(domain, subtract(g[e], gMean)), scaledBy: 2 * beta / m, to: &gradient)
            let first = (0..<s).map { i in (0..<n).map { deviations[e][$0] * Double(v[i, $0]) } }
            let second = (0..<s).map { i in (0..<n).map { Double(v[i, $0]) } }
            add(try thirdDerivative(domain, first: first, second: second), scaledBy: 2 * alpha / (m * Double(s)), to: &gradient)
        }
        return Penalty(value: alpha * hessianTerm + beta * gradientTerm, hessianTerm: hessianTerm,
                       gradientTerm: gradientTerm, gradient: gradient.map { T($0) })
    }

    static func validate<T>(_ domains: [LinearHeadHessian<T>], _ alpha: Double, _ beta: Double) throws {
        guard domains.count >= 2 else {
            throw FulcrumError.invalidParameter(argument: "domains", value: "\(domains.count) domains", requirement: "at least 2")
        }
        for (name, w) in [("alpha", alpha), ("beta", beta)] where !(w.isFinite && w >= 0) {
            throw FulcrumError.invalidParameter(argument: name, value: "\(w)", requirement: "finite and >= 0")
        }
        let first = domains[0]
        for (e, d) in domains.enumerated()
        where d.classes != first.classes || d.featureCount != first.featureCount || d.hasBias != first.hasBias {
            throw FulcrumError.shapeMismatch(argument: "domains[\(e)]",
                                             expected: "\(first.classes) classes, \(first.featureCount) features, bias \(first.hasBias)",
                                             actual: "\(d.classes) classes, \(d.featureCount) features, bias \(d.hasBias)")
        }
    }

    static func gradientVector<T>(_ h: LinearHeadHessian<T>) throws -> [Double] {
        var g = [T](repeating: 0, count: h.dimension)
        try g.withUnsafeMutableBufferPointer { try h.gradient(into: $0) }
        return g.map { Double($0) }
    }

    static func apply<T>(_ h: LinearHeadHessian<T>, _ x: [Double]) throws -> [Double] {
        let xt = x.map { T($0) }
        var y = [T](repeating: 0, count: h.dimension)
        try xt.withUnsafeBufferPointer { xp in try y.withUnsafeMutableBufferPointer { try h.apply(xp, into: $0) } }
        return y.map { Double($0) }
    }

    static func thirdDerivative<T>(_ h: LinearHeadHessian<T>, first: [[Double]], second: [[Double]]) throws -> [Double] {
        let n = h.dimension
        let u = try Matrix<T>(rows: first.count, columns: n, elements: first.flatMap { $0.map { T($0) } })
        let v = try Matrix<T>(rows: second.count, columns: n, elements: second.flatMap { $0.map { T($0) } })
        var y = [T](repeating: 0, count: n)
        try u.withView { uv in try v.withView { vv in try y.withUnsafeMutableBufferPointer { try h.thirdDerivative(first: uv, second: vv, into: $0) } } }
        return y.map { Double($0) }
    }

    static func mean(_ vectors: [[Double]]) -> [Double] {
        sum(vectors).map { $0 / Double(vectors.count) }
    }

    static func sum(_ vectors: [[Double]]) -> [Double] {
        var total = [Double](repeating: 0, count: vectors[0].count)
        for v in vectors { for j in 0..<v.count { total[j] += v[j] } }
        return total
    }

    static func subtract(_ a: [Double], _ b: [Double]) -> [Double] { zip(a, b).map { $0 - $1 } }
    static func squaredNorm(_ a: [Double]) -> Double { a.reduce(0) { $0 + $1 * $1 } }
    static func add(_ x: [Double], scaledBy c: Double, to y: inout [Double]) { for j in 0..<x.count { y[j] += c * x[j] } }
}
