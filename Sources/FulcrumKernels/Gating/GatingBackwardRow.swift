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

    /// Doubles per row of `paddedCoefficients`: E′ rounded up to whole vectors.
    static func coefficientStride(experts: Int) -> Int { (experts + 7) & ~7 }

    /// The S×E′ coefficients copied into zero-padded rows of whole vectors, after checking them.
    static func paddedCoefficients(_ c: MatrixView<Double>?, sequences: Int, experts: Int) throws -> UnsafeMutablePointer<Double>? {
        guard let c else { return nil }
        try checkShape(c, rows: sequences, columns: experts, argument: "balanceCoefficients")
        let stride = coefficientStride(experts: experts)
        let copy = UnsafeMutablePointer<Double>.allocate(capacity: max(1, sequences * stride))
        copy.initialize(repeating: 0, count: max(1, sequences * stride))
        for s in 0..<sequences {
            for e in 0..<experts {
                guard c[s, e].isFinite else {
                    copy.deallocate()
                    throw FulcrumError.nonFiniteValue(argument: "balanceCoefficients", row: s, column: e)
                }
                copy[s * stride + e] = c[s, e]
            }
        }
        return copy
    }

    /// Writes ∂L/∂x for row `x` into `out`; returns false (and writes nothing) for non-finite x.
    @inline(__always)
    func differentiate(
        _ x: UnsafePointer<Float>, lse: Float, indices: UnsafePointer<Int32>, weightGradients: UnsafePointer<Float>?,
        coefficients: UnsafePointer<Double>?, into out: UnsafeMutablePointer<Float>
    ) -> Bool {
        // Pass 1: pⱼ, σⱼ, and the sums the balance term needs (dot products in Double: the
        // balance gradient is a difference cⱼ − Σcq of nearly equal numbers).
        let shift = SIMD8<Float>(repeating: lse)
        var check = SIMD8<Float>(), sumSigma = SIMD8<Float>()
        var dotP = SIMD4<Double>(), dotSigma = SIMD4<Double>()
        /// Logits `v` at j (−∞ past the row), `finite` the same with 0 past the row.
        @inline(__always) func scores(_ v: SIMD8<Float>, _ finite: SIMD8<Float>, at j: Int) {
            check = Float.multiplyAdd(finite, SIMD8(), check)
            // x − lse ≤ 0 for the forward pass's lse; the clamp keeps another lse from overflowing
            // the shifted exponential (pⱼ is then at most 1 instead of garbage).
            let shifted = v - shift
            probabilities.storeVector(Float.exponentialOfShift(Float.select(where: SIMD8(), isLessThan: shifted, SIMD8(), else: shifted)), at: j)
            let s = 1 / (1 + Float.exp(-v))
            sigmoids.storeVector(s, at: j)
            sumSigma += s
        }
        var j = 0
        while j &+ 8 <= experts {
            let v = x.loadVector(at: j)
            scores(v, v, at: j)
            j &+= 8
        }
        if j < experts {
            scores(x.loadVector(at: j, count: experts &- j, padding: -.infinity), x.loadVector(at: j, count: experts &- j, padding: 0), at: j)
        }
        guard check.sum() == 0 else { return false }
        // The Double dot products read the stored values back in a loop of their own: fused into
        // the loop above, the split into Double halves would also split the exponentials.
        if let coefficients {
            j = 0
            while j < paddedExperts {
                dotP += dotDoubles(UnsafePointer(probabilities).loadVector(at: j), coefficients, j)
                dotSigma += dotDoubles(UnsafePointer(sigmoids).loadVector(at: j), coefficients, j)
                j &+= 8
            }
        }

        // Pass 2: the dense part qⱼ(1 − σⱼ)(cⱼ − Σcq) + 2γ·lse·pⱼ.
        let twoGammaL = 2 * zLoss * lse
        let sigmaSum = sumSigma.sum()
        let fallback = sigmaSum < sigmoidSumFloor
        let offset = -(fallback ? dotP.sum() : dotSigma.sum() / Double(sigmaSum))
        @inline(__always) func dense(at j: Int) -> SIMD8<Float> {
            let p = UnsafePointer(probabilities).loadVector(at: j)
            let s = UnsafePointer(sigmoids).loadVector(at: j)
            let q = fallback ? p : s * (1 / sigmaSum)
            let centered = coefficients.map { shiftedFloats($0, j, offset) } ?? SIMD8()
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

/// Σ over 8 lanes of Double(v[l])·c[j + l], as 4 partial sums.
@inline(__always)
private func dotDoubles(_ v: SIMD8<Float>, _ c: UnsafePointer<Double>, _ j: Int) -> SIMD4<Double> {
    let raw = UnsafeRawPointer(c + j)
    let low = raw.loadUnaligned(as: SIMD4<Double>.self) * SIMD4<Double>(v.lowHalf)
    return low + raw.loadUnaligned(fromByteOffset: 32, as: SIMD4<Double>.self) * SIMD4<Double>(v.highHalf)
}

/// Float(c[j + l] + offset) for 8 lanes: the sum in Double, one rounding to Float.
@inline(__always)
private func shiftedFloats(_ c: UnsafePointer<Double>, _ j: Int, _ offset: Double) -> SIMD8<Float> {
    let raw = UnsafeRawPointer(c + j)
    let shift = SIMD4<Double>(repeating: offset)
    let low = SIMD4<Float>(raw.loadUnaligned(as: SIMD4<Double>.self) + shift)
    let high = SIMD4<Float>(raw.loadUnaligned(fromByteOffset: 32, as: SIMD4<Double>.self) + shift)
    return SIMD8(lowHalf: low, highHalf: high)
}
