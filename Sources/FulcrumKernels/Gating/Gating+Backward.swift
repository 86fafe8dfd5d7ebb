extension Gating {
    /// The gradient of a router's losses with respect to its logits, in one fused pass.
    ///
    /// Differentiates, with the selection in `indices` held constant (as every framework does):
    ///
    ///     L = Σₜ Σₐ gₜₐ·wₜₐ  +  Σₜ Σⱼ c_{seq(t), j}·sₜⱼ  +  γ·Σₜ lseₜ²
    ///
    /// where w are the weights of the forward pass, g = `weightGradients`, s the load-balancing
    /// scores (softmax pₜⱼ, or σₜⱼ/Σσₜ for sigmoid), c = `balanceCoefficients` (one row per
    /// sequence) and γ = `zLossCoefficient`. Per row, with p = softmax(x), λ = `scalingFactor`,
    /// D = Σⱼ cⱼpⱼ, and w̃ the weights before λ:
    /// - z-loss and softmax balance: ∂/∂xⱼ = pⱼ·(cⱼ − D + 2γ·lse);
    ///   sigmoid balance: qⱼ(1 − σⱼ)(cⱼ − Σᵢcᵢqᵢ) with q = σ/Σσ;
    /// - softmax weights over the selected (`preSoftmax == false` or `normalizeTopK`):
    ///   ∂/∂x_{e_b} = λ·w̃_b·(g_b − Σₐ gₐw̃ₐ); softmax `preSoftmax` unnormalised: λ·p_{e_b}·g_b at the
    ///   selected and −λ·pⱼ·Σₐ gₐp_{eₐ} everywhere; sigmoid: λ·g_b·σ_b(1 − σ_b), or normalised
    ///   λ·w̃_b(1 − σ_b)(g_b − Σₐ gₐw̃ₐ).
    /// A dropped assignment (`~e`) has the constant weight 0: its g is ignored, but it still
    /// counts in the normalisation of the kept weights, as in the forward pass.
    ///
    /// The loss terms map onto FulcrumMoE: a load-balancing loss α·E′·Σᵢ f̃ᵢ·(1/T)Σₜ sₜᵢ has
    /// cᵢ = α·E′·f̃ᵢ/T; the z-loss β·mean(lse²) has γ = β/N.
    ///
    /// - Parameters:
    ///   - logits: the N×E′ logits of the forward pass.
    ///   - indices: its N×k routing map; `logSumExp`: its N row log-sum-exps.
    ///   - weightGradients: N×k ∂L/∂w, or nil for none. NaN or ±∞ there propagate to that row.
    ///   - balanceCoefficients: S×E′ finite coefficients c, or nil for none. The balance gradient
    ///     pⱼ(cⱼ − Σcp) subtracts nearly equal numbers when the load is balanced; since Σp = 1, it
    ///     equals pⱼ(δⱼ − Σδp) for each row shifted by the midpoint of its range (δ = c − m, formed
    ///     in Double and rounded once), and its Float error is relative to the row's spread
    ///     max c − min c, not to its magnitude.
    ///   - sequenceOffsets: the sequences the rows of `balanceCoefficients` refer to (nil: one).
    ///   - zLossCoefficient: γ, finite.
    ///   - logitGradients: N×E′ output; may not alias `logits`.
    /// - Throws: `invalidParameter`, `shapeMismatch`, `indexOutOfRange(argument: "indices", …)` for
    ///   an expert outside E′ (at the first such row), `nonFiniteValue` for non-finite logits,
    ///   log-sum-exps or coefficients, `invalidParameter` for a coefficient row whose half-range
    ///   exceeds the Float range. After an `indexOutOfRange` or a non-finite logit,
    ///   `logitGradients` is unspecified (the rows are checked in the same parallel pass that writes it).
    ///
    /// Complexity: O(N·E′), E′ exponentials per token (2E′ for sigmoid), one read of the logits
    /// and one write of the gradient; bitwise the same for any thread count (rows, and the tiles
    /// of 8 tokens of softmax routers, `GatingBackwardTile`, are independent).
    public static func backward(
        logits: MatrixView<Float>, configuration: GatingConfiguration,
        indices: MatrixView<Int32>, logSumExp: UnsafeBufferPointer<Float>,
        weightGradients: MatrixView<Float>?, balanceCoefficients: MatrixView<Double>?,
        sequenceOffsets: [Int]? = nil, zLossCoefficient: Float = 0,
        into logitGradients: MutableMatrixView<Float>
    ) throws {
        try configuration.validate()
        let (n, experts, k) = (logits.rows, configuration.totalExpertCount, configuration.topK)
        try checkShape(logits, rows: n, columns: experts, argument: "logits")
        try checkShape(indices, rows: n, columns: k, argument: "indices")
        try checkCount(logSumExp.count, n, argument: "logSumExp")
        if let weightGradients { try checkShape(weightGradients, rows: n, columns: k, argument: "weightGradients") }
        try checkShape(MatrixView(logitGradients), rows: n, columns: experts, argument: "logitGradients")
        let offsets = try validatedSequenceOffsets(sequenceOffsets, tokenCount: n)
        guard zLossCoefficient.isFinite else {
            throw FulcrumError.invalidParameter(argument: "zLossCoefficient", value: "\(zLossCoefficient)", requirement: "finite")
        }
        if let t = logSumExp.firstIndex(where: { !$0.isFinite }) {
            throw FulcrumError.nonFiniteValue(argument: "logSumExp", row: t, column: 0)
        }
        let coefficients = try GatingBackwardRow.centeredCoefficients(balanceCoefficients, sequences: offsets.count - 1, experts: experts)
        defer { coefficients?.deallocate() }

        let blocks = (n + blockRows - 1) / blockRows
        // Per block: the first row with non-finite logits, and the first with an expert outside E′.
        let badRow = UnsafeMutablePointer<Int>.allocate(capacity: 2 * max(1, blocks))
        badRow.initialize(repeating: -1, count: 2 * max(1, blocks))
        defer { badRow.deallocate() }
        let badIndexRow = badRow + max(1, blocks)
        let tiled = GatingBackwardTile.handles(configuration)
        let coefficientStride = GatingBackwardRow.coefficientStride(experts: experts)
        Threads.forEachBlock(count: n, blockSize: blockRows) { block, range in
            var sequence = offsets.lastIndex { $0 <= range.lowerBound }!
            @inline(__always) func coefficientRow() -> UnsafePointer<Float>? {
                coefficients.map { UnsafePointer($0 + sequence * coefficientStride) }
            }
            if tiled {
                let tile = GatingBackwardTile(configuration, zLossCoefficient: zLossCoefficient)
                defer { tile.deallocate() }
                var t = range.lowerBound
                while t < range.upperBound {
                    while t >= offsets[sequence + 1] { sequence += 1 }
                    let rows = t ..< min(range.upperBound, offsets[sequence + 1], t + TokenTile.lanes)
                    t = rows.upperBound
                    if let bad = rows.first(where: { !validIndices(indices.row($0), count: k, experts: experts) }) {
                        if badIndexRow[block] < 0 { badIndexRow[block] = bad }
                        continue
                    }
                    let bad = tile.differentiate(
                        logits, rows: rows, lse: logSumExp, indices: indices, weightGradients: weightGradients,
                        coefficients: coefficientRow(), into: logitGradients)
                    if let bad, badRow[block] < 0 { badRow[block] = bad }
                }
                return
            }
            let row = GatingBackwardRow(configuration, zLossCoefficient: zLossCoefficient)
            defer { row.deallocate() }
            for t in range {
                while t >= offsets[sequence + 1] { sequence += 1 }
                guard validIndices(indices.row(t), count: k, experts: experts) else {
                    if badIndexRow[block] < 0 { badIndexRow[block] = t }
                    continue
                }
                let finite = row.differentiate(
                    logits.row(t), lse: logSumExp[t], indices: indices.row(t),
                    weightGradients: weightGradients?.row(t), coefficients: coefficientRow(),
                    into: logitGradients.row(t))
                if !finite && badRow[block] < 0 { badRow[block] = t }
            }
        }
        if let t = (0..<blocks).lazy.map({ badIndexRow[$0] }).first(where: { $0 >= 0 }) {
            let raw = (0..<k).lazy.map { Int(indices[t, $0]) }.first { ($0 < 0 ? ~$0 : $0) >= experts } ?? 0
            throw FulcrumError.indexOutOfRange(argument: "indices", position: t, value: raw, validRange: "0..<\(experts) or ~(0..<\(experts))")
        }
        if let t = (0..<blocks).lazy.map({ badRow[$0] }).first(where: { $0 >= 0 }) {
            let column = (0..<experts).first { !logits[t, $0].isFinite } ?? 0
            throw FulcrumError.nonFiniteValue(argument: "logits", row: t, column: column)
        }
    }

    /// `true` when every entry of `row` is an expert e in 0..<E′ or a dropped mark ~e.
    @inline(__always)
    private static func validIndices(_ row: UnsafePointer<Int32>, count: Int, experts: Int) -> Bool {
        var largest: Int32 = 0
        for a in 0..<count {
            let raw = row[a]
            let e = raw < 0 ? ~raw : raw
            largest = e > largest ? e : largest
        }
        return Int(largest) < experts
    }
}
