import CBLASShim

/// Routes 8 tokens at a time, one token per SIMD lane, for the most common router: softmax
/// scores, the top k ≤ 8 of the logits, then the softmax over the selected (Megatron-LM's
/// default; Switch Transformer, Mixtral), with no expert bias and no groups.
///
/// The 8 rows of a tile are transposed (`TokenTile`) so that one vector holds one expert's logits
/// of the 8 tokens. Every step is then a vertical vector operation over the experts, with no
/// per-token reduction, shuffle or branch:
/// - the top k of each token sink through sorted levels: for k ≥ 3 and up to 256 experts, k + 1
///   levels of packed (logit, expert) integer keys (`PackedTokenLevels`; the few tokens with
///   logits too close for the packed keys are selected exactly from their rows), else k levels
///   of (logit, expert) pairs (`TokenLevels`); the best selected logit is the row maximum m;
/// - e^{x−m} and their sum s; the softmax pⱼ = e^{xⱼ−m}/s is added per lane to Float
///   load-balancing sums;
/// - the weights e^{x_a−m}/Σ_b e^{x_b−m} and lse = m + log s of the 8 tokens at once.
/// Per token remain the writes of its k indices and weights, its k count updates and its
/// real-expert count. The weights are `selectedSoftmaxOfLanes`'s (per lane, `selectedSoftmax`'s).
///
/// A tile never spans two sequences; a tile of fewer than 8 tokens repeats its last row in the
/// spare lanes and masks them out. The score sums stay in Float, one per lane, for
/// `tilesPerFlush` tiles; then each expert's 8 lanes are added up and go to the caller's Double
/// sums (each Float sum has at most 32 + 3 rounding steps: relative error below 35·2⁻²⁴).
struct GatingTileRouter {
    /// Tokens per tile.
    static let lanes = TokenTile.lanes
    /// Tiles whose scores are summed in Float before they are added to the Double sums.
    static let tilesPerFlush = 32
    /// The smallest k selected through packed keys (up to 256 experts); below it `TokenLevels`.
    static let packedMinimumK = 3

    /// Whether this router handles `configuration` (with `hasBias` telling whether an expert bias
    /// is given); the others take `GatingRowRouter`.
    static func handles(_ configuration: GatingConfiguration, hasBias: Bool) -> Bool {
        configuration.scoreFunction == .softmax && !configuration.preSoftmax && !hasBias
            && configuration.groupCount == 1 && configuration.topK <= lanes
    }

    let experts: Int
    let realExperts: Int
    let topK: Int
    let scale: Float
    /// The tile: expert e's logits of the 8 tokens, then their e^{x−m}.
    let tile: TokenTile
    /// Vector e: expert e's pending Float score sums, per lane.
    let pending: UnsafeMutablePointer<Float>
    /// The selected logits and experts, level a at [8a ..< 8a + 8].
    let selectedKeys: UnsafeMutablePointer<Float>
    let selectedExperts: UnsafeMutablePointer<Int32>
    /// For packed keys (`PackedTokenLevels`, k ≥ `packedMinimumK`): the exact selection of the
    /// tokens they leave undecided.
    var exact: (topK: ThresholdTopK, selector: TopKSelector)?
    var pendingTarget: UnsafeMutablePointer<Double>?
    var pendingTiles = 0

    init(_ configuration: GatingConfiguration) {
        experts = configuration.totalExpertCount
        realExperts = configuration.expertCount
        topK = configuration.topK
        scale = configuration.scalingFactor
        let padded = (experts + 7) & ~7
        tile = TokenTile(columnCount: experts)
        pending = .allocate(capacity: padded * Self.lanes)
        pending.initialize(repeating: 0, count: padded * Self.lanes)
        selectedKeys = .allocate(capacity: Self.lanes * Self.lanes)
        selectedExperts = .allocate(capacity: Self.lanes * Self.lanes)
        if topK >= Self.packedMinimumK && experts <= PackedTokenLevels.maximumExperts {
            exact = (ThresholdTopK(count: experts), TopKSelector(capacity: topK))
        }
    }

    func deallocate() {
        tile.deallocate(); pending.deallocate()
        selectedKeys.deallocate(); selectedExperts.deallocate()
        exact?.topK.deallocate(); exact?.selector.deallocate()
    }

    /// Routes the tokens `rows` (1…8 consecutive rows of one sequence): writes their indices,
    /// weights, lse and real-expert counts into `outputs`, adds to `counts` and (through the
    /// pending sums) to `sums`. Returns the first row holding a non-finite logit, if any.
    @inline(__always)
    mutating func route(
        _ logits: MatrixView<Float>, rows: Range<Int>, into outputs: GatingOutputs,
        counts: UnsafeMutablePointer<Int64>, sums: UnsafeMutablePointer<Double>
    ) -> Int? {
        tile.load(logits, rows: rows)
        let (check, undecided) = select()
        if let bad = TokenTile.firstNonFinite(check, rows: rows) { return bad }
        if exact != nil { completeSelection(logits, rows: rows, undecided: undecided) }
        // The best selected logits: the row maxima.
        let m = UnsafePointer(selectedKeys).loadVector(at: 0, as: SIMD8<Float>.self)
        let s = exponentials(shift: m)
        if pendingTarget != sums || pendingTiles == Self.tilesPerFlush { flush() }
        pendingTarget = sums
        pendingTiles &+= 1
        let valid = SIMD8<Float>(repeating: Float(rows.count))
        let inverse = Float.select(where: SIMD8<Float>.laneIndices, isLessThan: valid, 1 / s, else: SIMD8())
        accumulate(inverse)
        let weights = selectedWeights()
        outputs.logSumExp.baseAddress!.storeVector(m + Float.log(s), at: rows.lowerBound, count: rows.count)
        for lane in 0..<rows.count {
            let t = rows.lowerBound &+ lane
            let (indexRow, weightRow) = (outputs.indices.row(t), outputs.weights.row(t))
            var real: Int32 = 0
            for a in 0..<topK {
                let e = selectedExperts[8 &* a &+ lane]
                indexRow[a] = e
                weightRow[a] = weights[8 &* a &+ lane]
                counts[Int(e)] &+= 1
                real &+= e < realExperts ? 1 : 0
            }
            outputs.realExpertCounts[t] = real
        }
        return nil
    }

    /// Adds the pending Float score sums to their Double sums and clears them. Call it after the
    /// last tile of a block.
    @inline(__always)
    mutating func flush() {
        guard let target = pendingTarget else { return }
        for e in 0..<experts {
            target[e] += Double(Float.sumOfLanes(UnsafePointer(pending).loadVector(at: 8 &* e, as: SIMD8<Float>.self)))
            pending.storeVector(SIMD8(), at: 8 &* e)
        }
        pendingTarget = nil
        pendingTiles = 0
    }

    /// Inserts every expert into the sorted levels and stores the k selected experts (and, from
    /// `TokenLevels`, their logits); returns a vector that is 0 in the lanes whose logits are all
    /// finite (x·0 + … is NaN otherwise) and the lanes whose selection the packed keys left
    /// undecided.
    @inline(__always)
    private func select() -> (check: SIMD8<Float>, undecided: UInt32) {
        guard exact != nil else {
            return TokenLevels.withEmpty(depth: topK) { levels in
                var check = SIMD8<Float>()
                var expert = TokenLevels.Indices()
                for e in 0..<experts {
                    let x = tile.column(e)
                    check = Float.multiplyAdd(x, SIMD8(), check)
                    levels.insert(x, expert: expert)
                    expert &+= 1
                }
                levels.store(keys: selectedKeys, experts: selectedExperts)
                return (check, 0)
            }
        }
        // Literal depths keep the levels in registers (the compiler leaves a closure passed to
        // `withConstantDepth` out of line here).
        @inline(__always) func packed(depth: Int) -> (check: SIMD8<Float>, undecided: UInt32) {
            var levels = PackedTokenLevels(depth: depth)
            var check = SIMD8<Float>()
            var code = PackedTokenLevels.code(ofExpert: 0)
            for e in 0..<experts {
                let x = tile.column(e)
                check = Float.multiplyAdd(x, SIMD8(), check)
                levels.insert(PackedTokenLevels.packed(x, code: code))
                code &-= 1
            }
            levels.storeExperts(selectedExperts)
            return (check, levels.undecidedLanes)
        }
        switch topK {
        case 3: return packed(depth: 4)
        case 4: return packed(depth: 5)
        case 5: return packed(depth: 6)
        case 6: return packed(depth: 7)
        case 7: return packed(depth: 8)
        default: return packed(depth: 9)
        }
    }

    /// Stores the logits of the experts `select` stored, and selects the `undecided` lanes'
    /// tokens exactly.
    @inline(__always)
    private mutating func completeSelection(_ logits: MatrixView<Float>, rows: Range<Int>, undecided: UInt32) {
        for slot in 0 ..< 8 &* topK {
            selectedKeys[slot] = tile.columns[8 &* Int(selectedExperts[slot]) &+ (slot & 7)]
        }
        if undecided != 0 { selectExactly(logits, rows: rows, lanes: undecided) }
    }

    /// Selects the tokens of `lanes` with `ThresholdTopK` over their rows (out of line: rare on
    /// continuous logits).
    @inline(never)
    private mutating func selectExactly(_ logits: MatrixView<Float>, rows: Range<Int>, lanes: UInt32) {
        var lanes = lanes
        while lanes != 0 {
            let lane = lanes.trailingZeroBitCount
            let row = logits.row(rows.lowerBound &+ min(lane, rows.count &- 1))
            exact!.topK.select(row, count: experts, into: &exact!.selector)
            for a in 0..<topK {
                selectedKeys[8 &* a &+ lane] = exact!.selector.key[a]
                selectedExperts[8 &* a &+ lane] = exact!.selector.index[a]
            }
            lanes &= lanes &- 1
        }
    }

    /// Replaces every column x by e^{x−m} and returns their sums s.
    @inline(__always)
    private func exponentials(shift m: SIMD8<Float>) -> SIMD8<Float> {
        let shift = SIMD16(lowHalf: m, highHalf: m)
        var sums = SIMD16<Float>(), last = SIMD8<Float>()
        tile.updateColumns(pair: { _, x in
            let v = Float.exponentialOfShift(x - shift)
            sums += v
            return v
        }, single: { _, x in
            last = Float.exponentialOfShift(x - m)
            return last
        })
        return sums.lowHalf + sums.highHalf + last
    }

    /// pending[e] += e^{x−m}·(1/s) per lane, 0 in the spare lanes.
    @inline(__always)
    private func accumulate(_ inverse: SIMD8<Float>) {
        for e in 0..<experts {
            let v = tile.column(e)
            pending.storeVector(Float.multiplyAdd(v, inverse, UnsafePointer(pending).loadVector(at: 8 &* e, as: SIMD8<Float>.self)), at: 8 &* e)
        }
    }

    /// The weights λ·e^{x_a−m}/Σ_b e^{x_b−m} of the k selected, level a at [8a ..< 8a + 8] of
    /// `selectedKeys` (overwritten).
    @inline(__always)
    private func selectedWeights() -> UnsafeMutablePointer<Float> {
        selectedSoftmaxOfLanes(selectedKeys, count: topK)
        if scale != 1 {
            for a in 0..<topK { selectedKeys.storeVector(UnsafePointer(selectedKeys).loadVector(at: 8 &* a, as: SIMD8<Float>.self) * scale, at: 8 &* a) }
        }
        return selectedKeys
    }
}
