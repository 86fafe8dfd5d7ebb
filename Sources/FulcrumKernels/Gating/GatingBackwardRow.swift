/// The backward pass for one token (formulas in `Gating.backward`), with per-block scratch.
struct GatingBackwardRow {
    let configuration: GatingConfiguration
    let experts: Int
    let paddedExperts: Int
    let zLoss: Float
    /// pⱼ = e^{xⱼ − lse} of the current row.
    let probabilities: UnsafeMutablePointer<Float>
    /// σⱼ of the current row (sigmoid only).
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

    /// The S×E′ coefficients copied into zero-padded rows of whole vectors, after checking them.
    static func paddedCoefficients(_ c: MatrixView<Float>?, sequences: Int, experts: Int) throws -> UnsafeMutablePointer<Float>? {
        guard let c else { return nil }
        try checkShape(c, rows: sequences, columns: experts, argument: "balanceCoefficients")
        let stride = (experts + 7) & ~7
        let copy = UnsafeMutablePointer<Float>.allocate(capacity: max(1, sequences * stride))
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
        coefficients: UnsafePointer<Float>?, into out: UnsafeMutablePointer<Float>
    ) -> Bool {
        let sigmoid = configuration.scoreFunction == .sigmoid
        // Pass 1: pⱼ, σⱼ, and the sums the balance term needs.
        let shift = SIMD8<Float>(repeating: lse)
        var check = SIMD8<Float>(), dotP = SIMD8<Float>(), sumSigma = SIMD8<Float>(), dotSigma = SIMD8<Float>()
        var j = 0
        while j < paddedExperts {
            let v = j + 8 <= experts ? x.loadVector(at: j) : x.loadVector(at: j, count: experts - j, padding: -.infinity)
            if j + 8 <= experts { check += v * 0 } else { check += x.loadVector(at: j, count: experts - j, padding: 0) * 0 }
            let p = Float.exp(v - shift)
            probabilities.storeVector(p, at: j)
            let c = coefficients.map { $0.loadVector(at: j) } ?? SIMD8()
            dotP = Float.multiplyAdd(c, p, dotP)
            if sigmoid {
                let s = 1 / (1 + Float.exp(-v))
                sigmoids.storeVector(s, at: j)
                sumSigma += s
                dotSigma = Float.multiplyAdd(c, s, dotSigma)
            }
            j += 8
        }
        guard check.sum() == 0 else { return false }

        // Pass 2: the dense part, pⱼ·(cⱼ + a) for softmax, plus the sigmoid balance term.
        let twoGammaL = 2 * zLoss * lse
        let k = configuration.topK
        let lambda = configuration.scalingFactor
        gatherSelection(indices, weightGradients)
        var offset = twoGammaL
        if !sigmoid && coefficients != nil { offset -= dotP.sum() }
        let unnormalizedSoftmax = !sigmoid && !configuration.weightsAreSelectedSoftmax
        if unnormalizedSoftmax {
            var pg: Float = 0
            for a in 0..<k { pg += upstream[a] * probabilities[Int(chosen[a])] }
            offset -= lambda * pg
        }
        let sigmaSum = sumSigma.sum()
        let fallback = sigmaSum < sigmoidSumFloor
        let balanceMean = fallback ? dotP.sum() : dotSigma.sum() / sigmaSum
        j = 0
        while j < paddedExperts {
            let p = UnsafePointer(probabilities).loadVector(at: j)
            let c = coefficients.map { $0.loadVector(at: j) } ?? SIMD8()
            var g: SIMD8<Float>
            if sigmoid {
                let s = UnsafePointer(sigmoids).loadVector(at: j)
                let q = fallback ? p : s * (1 / sigmaSum)
                g = Float.multiplyAdd(q * (1 - s), c - balanceMean, p * twoGammaL)
            } else {
                g = p * (c + offset)
            }
            if j + 8 <= experts { out.storeVector(g, at: j) } else { out.storeVector(g, at: j, count: experts - j) }
            j += 8
        }

        // The selected experts.
        if configuration.weightsAreSelectedSoftmax || (sigmoid && configuration.normalizeTopK) {
            if sigmoid {
                normalizedOrSoftmax(sigmoids, x, chosen, k, into: normalized)
            } else {
                selectedSoftmax(x, chosen, k, into: normalized)
            }
            var mean: Float = 0
            for a in 0..<k { mean += upstream[a] * normalized[a] }
            for b in 0..<k {
                let e = Int(chosen[b])
                let damp: Float = sigmoid ? 1 - sigmoids[e] : 1
                out[e] += lambda * normalized[b] * damp * (upstream[b] - mean)
            }
        } else {
            for b in 0..<k {
                let e = Int(chosen[b])
                let local = sigmoid ? sigmoids[e] * (1 - sigmoids[e]) : probabilities[e]
                out[e] += lambda * upstream[b] * local
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
