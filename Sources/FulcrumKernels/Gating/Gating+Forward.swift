/// Top-k routing for Mixture-of-Experts layers: one fused pass from router logits to the routing
/// map, the weights and every statistic the balancing losses need.
///
/// Papers: "Demons in the Detail: On Implementing Load Balancing Loss for Training Specialized
/// Mixture-of-Expert Models" (the statistics feed micro-, sequence- and global-batch losses);
/// "AdaMoE: Token-Adaptive Routing with Null Experts for Mixture-of-Experts Language Models"
/// (null experts); "ST-MoE" (router z-loss, from `logSumExp`).
public enum Gating {
    /// Rows per parallel block. Fixed, so results never depend on the thread count.
    static let blockRows = 512

    /// Routes N tokens over E′ = E + M experts.
    ///
    /// For every token t (row of `logits`) in one read of the row: the row max and
    /// lseₜ = log Σⱼ e^{xₜⱼ}; the scores (softmax pₜⱼ or sigmoid σₜⱼ); the load-balancing scores
    /// sₜⱼ (pₜⱼ, or σₜⱼ/Σσₜ) added to `scoreSums`; the selection keys (logits for
    /// "top-k then softmax", pₜⱼ for `preSoftmax`, σₜⱼ for sigmoid, each plus `expertBias`
    /// when given); the top k (group-limited when `groupCount > 1`), their weights (see
    /// `GatingConfiguration`), `expertCounts` and `realExpertCounts`. Then, with a capacity factor,
    /// assignments over capacity C are marked dropped (`~e`, weight 0) by probability or position.
    ///
    /// - Parameters:
    ///   - logits: N×E′ router logits; rows may be strided.
    ///   - configuration: the router options (validated here).
    ///   - expertBias: E′ finite biases added to the selection keys only, never to the weights
    ///     ("Auxiliary-Loss-Free Load Balancing Strategy for Mixture-of-Experts"); nil for none.
    ///   - sequenceOffsets: S + 1 token offsets 0 = o₀ < o₁ < … < o_S = N splitting the tokens
    ///     into sequences, for per-sequence statistics; nil means one sequence.
    ///   - outputs: where to write (shapes in `GatingOutputs`).
    /// - Returns: the capacity used and the number of dropped assignments.
    /// - Throws: `FulcrumError.invalidParameter` for a bad option or offsets;
    ///   `shapeMismatch` for a wrong shape; `nonFiniteValue(argument: "logits", …)` at the first
    ///   (row, column) holding NaN or ±∞ — logits must be finite; the outputs are then unspecified
    ///   — and `nonFiniteValue(argument: "expertBias", …)` for a non-finite bias.
    ///
    /// Complexity: O(N·E′) time with about E′ exponentials per token (2E′ for sigmoid), O(E′·k)
    /// scratch per block; the capacity pass adds O(N·k) (by position) or a sort of each
    /// overflowing expert's assignments (by probability). Bitwise the same for any thread count:
    /// per-block partial statistics are combined in block order.
    @discardableResult
    public static func forward(
        logits: MatrixView<Float>, configuration: GatingConfiguration,
        expertBias: UnsafeBufferPointer<Float>? = nil, sequenceOffsets: [Int]? = nil,
        into outputs: GatingOutputs
    ) throws -> GatingSummary {
        try configuration.validate()
        let n = logits.rows, experts = configuration.totalExpertCount
        try checkShape(logits, rows: n, columns: experts, argument: "logits")
        let offsets = try validatedSequenceOffsets(sequenceOffsets, tokenCount: n)
        try outputs.checkShapes(tokens: n, topK: configuration.topK, experts: experts, sequences: offsets.count - 1)
        let bias = try paddedBias(expertBias, experts: experts)
        defer { bias?.deallocate() }

        let plan = GatingBlockPlan(tokenCount: n, offsets: offsets, experts: experts)
        defer { plan.deallocate() }
        let badRow = UnsafeMutablePointer<Int>.allocate(capacity: max(1, plan.blocks))
        badRow.initialize(repeating: -1, count: max(1, plan.blocks))
        defer { badRow.deallocate() }

        let tiled = GatingTileRouter.handles(configuration, hasBias: bias != nil)
        Threads.forEachBlock(count: n, blockSize: blockRows) { block, range in
            let first = tiled
                ? routeTiles(logits, configuration, block: block, range, plan: plan, into: outputs)
                : routeRows(logits, configuration, bias: bias.map { UnsafePointer($0) }, block: block, range, plan: plan, into: outputs)
            if let first { badRow[block] = first }
        }

        if let t = (0..<plan.blocks).lazy.map({ badRow[$0] }).first(where: { $0 >= 0 }) {
            let column = (0..<experts).first { !logits[t, $0].isFinite } ?? 0
            throw FulcrumError.nonFiniteValue(argument: "logits", row: t, column: column)
        }
        plan.combine(into: outputs)
        guard let capacity = configuration.capacity(tokenCount: n) else {
            return GatingSummary(capacity: nil, droppedAssignments: 0)
        }
        let dropped = dropOverCapacity(outputs, configuration: configuration, capacity: capacity, plan: plan)
        return GatingSummary(capacity: capacity, droppedAssignments: dropped)
    }

    /// Routes block `block` (rows `range`) 8 tokens at a time (`GatingTileRouter`); returns the
    /// first row holding a non-finite logit, if any.
    private static func routeTiles(
        _ logits: MatrixView<Float>, _ configuration: GatingConfiguration, block: Int, _ range: Range<Int>,
        plan: GatingBlockPlan, into outputs: GatingOutputs
    ) -> Int? {
        var router = GatingTileRouter(configuration)
        defer { router.deallocate() }
        var bad: Int?
        plan.forEachRun(of: block, range) { run, partial in
            var t = run.lowerBound
            while t < run.upperBound && bad == nil {
                let tile = t ..< min(run.upperBound, t &+ GatingTileRouter.lanes)
                bad = router.route(logits, rows: tile, into: outputs, counts: plan.counts(partial), sums: plan.sums(partial))
                t = tile.upperBound
            }
        }
        router.flush()
        return bad
    }

    /// Routes block `block` (rows `range`) one token at a time (`GatingRowRouter`); returns the
    /// first row holding a non-finite logit, if any.
    private static func routeRows(
        _ logits: MatrixView<Float>, _ configuration: GatingConfiguration, bias: UnsafePointer<Float>?,
        block: Int, _ range: Range<Int>, plan: GatingBlockPlan, into outputs: GatingOutputs
    ) -> Int? {
        var router = GatingRowRouter(configuration, bias: bias)
        let rowSums = UnsafeMutablePointer<Float>.allocate(capacity: blockRows + 8)
        defer { router.deallocate(); rowSums.deallocate() }
        var bad: Int?
        let lse = outputs.logSumExp.baseAddress!
        plan.forEachRun(of: block, range) { run, partial in
            for t in run {
                let row = router.route(
                    logits.row(t), indices: outputs.indices.row(t), weights: outputs.weights.row(t),
                    counts: plan.counts(partial), sums: plan.sums(partial))
                if !row.finite && bad == nil { bad = t }
                lse[t] = row.max
                rowSums[t - range.lowerBound] = row.sum
                outputs.realExpertCounts[t] = row.realExperts
            }
        }
        router.flush()
        finishLogSumExp(lse + range.lowerBound, sums: rowSums, count: range.count)
        return bad
    }

    /// lse[i] = lse[i] + log(sums[i]) for i < count, where lse holds the row maxima.
    private static func finishLogSumExp(_ lse: UnsafeMutablePointer<Float>, sums: UnsafeMutablePointer<Float>, count: Int) {
        var i = 0
        while i < count {
            let n = min(8, count - i)
            let s = UnsafePointer(sums).loadVector(at: i, count: n, padding: 1, as: SIMD8<Float>.self)
            let m = UnsafePointer(lse).loadVector(at: i, count: n, padding: 0, as: SIMD8<Float>.self)
            lse.storeVector(m + Float.log(s), at: i, count: n)
            i += 8
        }
    }

    /// The bias copied into a zero-padded buffer of whole vectors, after checking it.
    private static func paddedBias(_ bias: UnsafeBufferPointer<Float>?, experts: Int) throws -> UnsafeMutablePointer<Float>? {
        guard let bias else { return nil }
        try checkCount(bias.count, experts, argument: "expertBias")
        if let j = bias.firstIndex(where: { !$0.isFinite }) {
            throw FulcrumError.nonFiniteValue(argument: "expertBias", row: j, column: 0)
        }
        let padded = (experts + 7) & ~7
        let copy = UnsafeMutablePointer<Float>.allocate(capacity: padded)
        copy.initialize(repeating: 0, count: padded)
        for j in 0..<experts { copy[j] = bias[j] }
        return copy
    }
}
