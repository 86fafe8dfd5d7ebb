import CBLASShim

/// The backward pass of softmax routers, 8 tokens at a time, one token per SIMD lane (the layout
/// of `GatingTileRouter`): pⱼ = e^{xⱼ−lse}, the dot products D = Σⱼδⱼpⱼ and the dense gradient
/// pⱼ·(δⱼ + a) are vertical vector operations over the experts, and the gradient tile is
/// transposed back into the rows. The selected experts' weight terms are vectors over the tile
/// too (`selectedTerms`); per token remain gathering its selection and adding its k terms.
///
/// The balance coefficients arrive centred (`GatingBackwardRow.centeredCoefficients`): the
/// difference cⱼ − Σcp of nearly equal numbers is formed as δⱼ − Σδp, in Float.
struct GatingBackwardTile {
    /// Whether the tile pass serves `configuration` (sigmoid routers take `GatingBackwardRow`).
    static func handles(_ configuration: GatingConfiguration) -> Bool {
        configuration.scoreFunction == .softmax
    }

    let experts: Int
    let topK: Int
    let scale: Float
    let zLoss: Float
    /// The weights are the softmax over the selected logits (else p itself, pre-softmax
    /// unnormalised).
    let selectedSoftmax: Bool
    /// The tile's logits, then pⱼ, then the dense part of the gradient.
    let tile: TokenTile
    /// Zero coefficients, for a call without balance coefficients.
    let zeroCoefficients: UnsafeMutablePointer<Float>
    /// Slot a of token r at [8a + r]: the expert (dropped marks removed), ∂L/∂w (0 where
    /// dropped), and the selected logit or pⱼ, then the slot's gradient term.
    let chosen: UnsafeMutablePointer<Int32>
    let upstream: UnsafeMutablePointer<Float>
    let selected: UnsafeMutablePointer<Float>

    init(_ configuration: GatingConfiguration, zLossCoefficient: Float) {
        experts = configuration.totalExpertCount
        topK = configuration.topK
        scale = configuration.scalingFactor
        zLoss = zLossCoefficient
        selectedSoftmax = configuration.weightsAreSelectedSoftmax
        tile = TokenTile(columnCount: experts)
        zeroCoefficients = .allocate(capacity: experts)
        zeroCoefficients.initialize(repeating: 0, count: experts)
        let slots = topK * TokenTile.lanes
        chosen = .allocate(capacity: slots)
        chosen.initialize(repeating: 0, count: slots)
        upstream = .allocate(capacity: slots)
        upstream.initialize(repeating: 0, count: slots)
        selected = .allocate(capacity: slots)
        selected.initialize(repeating: 0, count: slots)
    }

    func deallocate() {
        tile.deallocate()
        zeroCoefficients.deallocate()
        chosen.deallocate(); upstream.deallocate(); selected.deallocate()
    }

    /// Writes ∂L/∂x for rows `rows` (1…8 rows of one sequence whose indices are valid) into `out`.
    /// Returns the first row holding a non-finite logit, if any; the tile then writes nothing.
    @inline(__always)
    func differentiate(
        _ logits: MatrixView<Float>, rows: Range<Int>, lse: UnsafeBufferPointer<Float>, indices: MatrixView<Int32>,
        weightGradients: MatrixView<Float>?, coefficients: UnsafePointer<Float>?, into out: MutableMatrixView<Float>
    ) -> Int? {
        tile.load(logits, rows: rows)
        let c = coefficients ?? UnsafePointer(zeroCoefficients)
        let lastLSE = lse[rows.upperBound &- 1]
        let shift = lse.baseAddress!.loadVector(at: rows.lowerBound, count: rows.count, padding: lastLSE, as: SIMD8<Float>.self)
        // pⱼ, and D = Σⱼδⱼpⱼ per token, two experts at a time.
        let shiftPair = SIMD16(lowHalf: shift, highHalf: shift)
        var checks = SIMD16<Float>(), dots = SIMD16<Float>(), check = SIMD8<Float>(), dot = SIMD8<Float>()
        tile.updateColumns(pair: { e, x in
            checks = Float.multiplyAdd(x, SIMD16(), checks)
            let p = Self.probabilities(x, shift: shiftPair)
            dots = Float.multiplyAdd(Self.coefficientPair(c, e), p, dots)
            return p
        }, single: { e, x in
            check = Float.multiplyAdd(x, SIMD8(), check)
            let p = Self.probabilities(x, shift: shift)
            dot = Float.multiplyAdd(SIMD8(repeating: c[e]), p, dot)
            return p
        })
        check += checks.lowHalf + checks.highHalf
        dot += dots.lowHalf + dots.highHalf
        if let bad = TokenTile.firstNonFinite(check, rows: rows) { return bad }

        // The offset a = 2γ·lse − D − λ·Σₐgₐp_{eₐ} (the last for unnormalised pre-softmax), then
        // the dense part pⱼ·(δⱼ + a).
        let weightTerm = selectedTerms(logits, rows: rows, indices: indices, weightGradients: weightGradients)
        let offset = 2 * zLoss * shift - dot - weightTerm
        let offsetPair = SIMD16(lowHalf: offset, highHalf: offset)
        tile.updateColumns(pair: { e, p in p * (Self.coefficientPair(c, e) + offsetPair) },
                           single: { e, p in p * (SIMD8(repeating: c[e]) + offset) })
        tile.store(into: out, rows: rows)
        for lane in 0..<rows.count {
            let row = out.row(rows.lowerBound &+ lane)
            for a in 0..<topK { row[Int(chosen[8 &* a &+ lane])] += selected[8 &* a &+ lane] }
        }
        return nil
    }

    /// pⱼ = e^{xⱼ − lse} per lane. x − lse ≤ 0 for the forward pass's lse; the clamp at 0 keeps
    /// another lse from overflowing the shifted exponential.
    @inline(__always)
    static func probabilities<V: LaneVector>(_ x: V, shift: V) -> V where V.Scalar == Float {
        let shifted = x - shift
        return Float.exponentialOfShift(Float.select(where: V(), isLessThan: shifted, V(), else: shifted))
    }

    /// (c[e] in the low 8 lanes, c[e + 1] in the high 8): the coefficients of a column pair.
    @inline(__always)
    static func coefficientPair(_ c: UnsafePointer<Float>, _ e: Int) -> SIMD16<Float> {
        SIMD16(lowHalf: SIMD8(repeating: c[e]), highHalf: SIMD8(repeating: c[e &+ 1]))
    }

    /// Gathers each token's selection and fills `selected` with the slots' gradient terms:
    /// λ·w̃_b·(g_b − Σₐgₐw̃ₐ) for weights that are the softmax w̃ over the selected logits,
    /// λ·g_b·p_{e_b} for unnormalised pre-softmax weights. Returns λ·Σₐgₐp_{eₐ} per token for the
    /// latter (its share of the dense part), 0 for the former.
    @inline(__always)
    private func selectedTerms(
        _ logits: MatrixView<Float>, rows: Range<Int>, indices: MatrixView<Int32>, weightGradients: MatrixView<Float>?
    ) -> SIMD8<Float> {
        for lane in 0..<rows.count {
            let t = rows.lowerBound &+ lane
            let (index, g, x) = (indices.row(t), weightGradients?.row(t), logits.row(t))
            for a in 0..<topK {
                let raw = index[a]
                let e = raw < 0 ? ~raw : raw
                let slot = 8 &* a &+ lane
                chosen[slot] = e
                upstream[slot] = raw < 0 ? 0 : g?[a] ?? 0
                selected[slot] = selectedSoftmax ? x[Int(e)] : tile.columns[8 &* Int(e) &+ lane]
            }
        }
        @inline(__always) func slot(_ p: UnsafeMutablePointer<Float>, _ a: Int) -> SIMD8<Float> { UnsafePointer(p).loadVector(at: 8 &* a, as: SIMD8<Float>.self) }
        let lambda = SIMD8<Float>(repeating: scale)
        guard selectedSoftmax else {
            var pg = SIMD8<Float>()
            for a in 0..<topK {
                let (g, p) = (slot(upstream, a), slot(selected, a))
                pg += g * p
                selected.storeVector(lambda * g * p, at: 8 &* a)
            }
            return lambda * pg
        }
        selectedSoftmaxOfLanes(selected, count: topK)
        var mean = SIMD8<Float>()
        for a in 0..<topK { mean += slot(upstream, a) * slot(selected, a) }
        for a in 0..<topK {
            selected.storeVector(lambda * slot(selected, a) * (slot(upstream, a) - mean), at: 8 &* a)
        }
        return SIMD8()
    }
}
