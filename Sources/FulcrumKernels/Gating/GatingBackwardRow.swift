/// The backward pass for one token of a sigmoid router (formulas in `Gating.backward`), with
/// per-block scratch; softmax routers take `GatingBackwardTile`.
struct GatingBackwardRow {
    let configuration: GatingConfiguration
    let experts: Int
    let paddedExperts: Int
    let zLoss: Float
    /// pⱼ = e^{xⱼ − lse} of the current row.
    let probabilities: UnsafeMutablePointer<Float>
    /// σⱼ of the current row.
    let sigmoids: UnsafeMutablePointer<Float>
    /// The k selected experts (dropped marks removed), their weights before λ, and ∂L/∂w.
    let chosen: UnsafeMutablePointer<Int32>
    let normalized: UnsafeMutablePointer<Float>
    let upstream: UnsafeMutablePointer<Float>

    init(_ configuration: GatingConfiguration, zLossCoefficient: Float) {
        self.configuration = configuration
        experts = configuration.totalExpertCount
        paddedExperts = (experts + 7) & ~7
        zLoss = zLossCoefficient
        probabilities = .allocate(capacity: paddedExperts)
        sigmoids = .allocate(capacity: paddedExperts)
        let k = configuration.topK
        chosen = .allocate(capacity: k)
        normalized = .allocate(capacity: k)
        upstream = .allocate(capacity: k)
    }

    func deallocate() {
        probabilities.deallocate(); sigmoids.deallocate()
        chosen.deallocate(); normalized.deallocate(); upstream.deallocate()
    }

    /// Floats per row of `centeredCoefficients`: E′ rounded up to whole vectors.
    static func coefficientStride(experts: Int) -> Int { (experts + 7) & ~7 }

    /// The S×E′ balance coefficients after checking them: each row shifted by the midpoint m of
    /// its range, δⱼ = cⱼ − m formed in Double and rounded to Float once, in zero-padded rows of
    /// whole vectors.
    ///
    /// The balance gradient's factor cⱼ − Σᵢcᵢqᵢ subtracts nearly equal numbers when the load is
    /// balanced (every cⱼ close to one value). The scores q of every router sum to 1, so a row's
    /// shift cancels exactly: cⱼ − Σcq = δⱼ − Σδq, and Float arithmetic on δ errs relative to the
    /// row's spread, not its magnitude (summing c·q instead, even in Double, would keep the
    /// error m·(Σq − 1) of the rounded scores).
    /// - Throws: `nonFiniteValue` at the first non-finite coefficient; `invalidParameter` for a
    ///   row whose half-range exceeds the Float range.
    static func centeredCoefficients(_ c: MatrixView<Double>?, sequences: Int, experts: Int) throws -> UnsafeMutablePointer<Float>? {
        guard let c else { return nil }
        try checkShape(c, rows: sequences, columns: experts, argument: "balanceCoefficients")
        let stride = coefficientStride(experts: experts)
        let centered = UnsafeMutablePointer<Float>.allocate(capacity: max(1, sequences * stride))
        centered.initialize(repeating: 0, count: max(1, sequences * stride))
        do {
            for s in 0..<sequences {
                var (low, high) = (Double.infinity, -Double.infinity)
                for e in 0..<experts {
                    guard c[s, e].isFinite else { throw FulcrumError.nonFiniteValue(argument: "balanceCoefficients", row: s, column: e) }
                    (low, high) = (min(low, c[s, e]), max(high, c[s, e]))
                }
                // Halves first: the midpoint and the half-range of finite values never overflow.
                let (middle, halfRange) = (low / 2 + high / 2, high / 2 - low / 2)
                guard halfRange <= Double(Float.greatestFiniteMagnitude) else {
                    throw FulcrumError.invalidParameter(
                        argument: "balanceCoefficients", value: "row \(s) spanning [\(low), \(high)]",
                        requirement: "each row's half-range (max − min)/2 within the Float range")
                }
                for e in 0..<experts { centered[s * stride + e] = Float(c[s, e] - middle) }
            }
        } catch {
            centered.deallocate()
            throw error
        }
        return centered
    }

    /// Writes ∂L/∂x for row `x` into `out`; returns false (and writes nothing) for non-finite x.
    @inline(__always)
    func differentiate(
        _ x: UnsafePointer<Float>, lse: Float, indices: UnsafePointer<Int32>, weightGradients: UnsafePointer<Float>?,
        coefficients: UnsafePointer<Float>?, into out: UnsafeMutablePointer<Float>
    ) -> Bool {
        // Pass 1: pⱼ, σⱼ, and the sums the balance term needs (over the centred coefficients δ,
        // see `centeredCoefficients`).
        let shift = SIMD8<Float>(repeating: lse)
        var check = SIMD8<Float>(), sumSigma = SIMD8<Float>(), dotP = SIMD8<Float>(), dotSigma = SIMD8<Float>()
        /// Logits `v` at j (−∞ past the row), `finite` the same with 0 past the row.
        @inline(__always) func scores(_ v: SIMD8<Float>, _ finite: SIMD8<Float>, at j: Int) {
            check = Float.multiplyAdd(finite, SIMD8(), check)
            // x − lse ≤ 0 for the forward pass's lse; the clamp keeps another lse from overflowing
            // the shifted exponential (pⱼ is then at most 1 instead of garbage).
            let shifted = v - shift
            let p = Float.exponentialOfShift(Float.select(where: SIMD8(), isLessThan: shifted, SIMD8(), else: shifted))
            probabilities.storeVector(p, at: j)
            let s = 1 / (1 + Float.exp(-v))
            sigmoids.storeVector(s, at: j)
            sumSigma += s
            if let coefficients {
                let delta = coefficients.loadVector(at: j, as: SIMD8<Float>.self)
                dotP = Float.multiplyAdd(p, delta, dotP)
                dotSigma = Float.multiplyAdd(s, delta, dotSigma)
            }
        }
        var j = 0
        while j &+ 8 <= experts {
            let v = x.loadVector(at: j, as: SIMD8<Float>.self)
            scores(v, v, at: j)
            j &+= 8
        }
        if j < experts {
            scores(x.loadVector(at: j, count: experts &- j, padding: -.infinity, as: SIMD8<Float>.self), x.loadVector(at: j, count: experts &- j, padding: 0, as: SIMD8<Float>.self), at: j)
        }
        guard Float.sumOfLanes(check) == 0 else { return false }

        // Pass 2: the dense part qⱼ(1 − σⱼ)(δⱼ − Σδq) + 2γ·lse·pⱼ.
        let twoGammaL = 2 * zLoss * lse
        let sigmaSum = Float.sumOfLanes(sumSigma)
        let fallback = sigmaSum < sigmoidSumFloor
        let offset = -(fallback ? Float.sumOfLanes(dotP) : Float.sumOfLanes(dotSigma) / sigmaSum)
        @inline(__always) func dense(at j: Int) -> SIMD8<Float> {
            let p = UnsafePointer(probabilities).loadVector(at: j, as: SIMD8<Float>.self)
            let s = UnsafePointer(sigmoids).loadVector(at: j, as: SIMD8<Float>.self)
            let q = fallback ? p : s * (1 / sigmaSum)
            let centered = coefficients.map { $0.loadVector(at: j, as: SIMD8<Float>.self) + offset } ?? SIMD8()
            return Float.multiplyAdd(q * (1 - s), centered, p * twoGammaL)
        }
        j = 0
        while j &+ 8 <= experts {
            out.storeVector(dense(at: j), at: j)
            j &+= 8
        }
        if j < experts { out.storeVector(dense(at: j), at: j, count: experts &- j) }

        // The selected experts: λ·g_b·σ_b(1 − σ_b), or normalised λ·w̃_b(1 − σ_b)(g_b − Σₐgₐw̃ₐ).
        gatherSelection(indices, weightGradients)
        let (k, lambda) = (configuration.topK, configuration.scalingFactor)
        if configuration.normalizeTopK {
            normalizedOrSoftmax(sigmoids, x, chosen, k, into: normalized)
            var mean: Float = 0
            for a in 0..<k { mean += upstream[a] * normalized[a] }
            for b in 0..<k {
                let e = Int(chosen[b])
                out[e] += lambda * normalized[b] * (1 - sigmoids[e]) * (upstream[b] - mean)
            }
        } else {
            for b in 0..<k {
                let e = Int(chosen[b])
                out[e] += lambda * upstream[b] * (sigmoids[e] * (1 - sigmoids[e]))
            }
        }
        return true
    }

    /// Fills `chosen` (experts, marks removed) and `upstream` (∂L/∂w, 0 where dropped or absent).
    @inline(__always)
    private func gatherSelection(_ indices: UnsafePointer<Int32>, _ weightGradients: UnsafePointer<Float>?) {
        for a in 0..<configuration.topK {
            let raw = indices[a]
            chosen[a] = raw < 0 ? ~raw : raw
            upstream[a] = raw < 0 ? 0 : weightGradients?[a] ?? 0
        }
    }
}
