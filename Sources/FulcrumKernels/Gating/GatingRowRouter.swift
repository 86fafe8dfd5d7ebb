/// Routes one token at a time: scores, load-balancing statistics, top-k selection and weights,
/// reading the row of logits once from memory (the later passes hit L1).
///
/// It serves the configurations `GatingTileRouter` does not (softmax then top-k, sigmoid, an
/// expert bias, groups, k > 8). One router per worker block; it owns E′-sized scratch rows padded
/// to whole vectors.
///
/// The load-balancing scores are summed in Float over runs of at most `rowsPerFlush` tokens, then
/// added to the caller's Double sums (`flush()`): one Float add per score instead of two
/// conversions and Double adds, with a relative rounding error below 32·2⁻²⁴ ≈ 2·10⁻⁶ per run.
/// Runs depend only on the block's rows and sequences, so the sums stay bitwise deterministic.
struct GatingRowRouter {
    /// Tokens whose scores are summed in Float before they are added to the Double sums.
    static let rowsPerFlush = 32

    let configuration: GatingConfiguration
    let experts: Int
    let paddedExperts: Int
    /// Bias padded with zeros to `paddedExperts`, or nil.
    let bias: UnsafePointer<Float>?
    /// The current row's e^{x−m} (softmax, top-k of the logits), softmax probabilities (softmax,
    /// `preSoftmax`) or sigmoid values.
    let scores: UnsafeMutablePointer<Float>
    /// Selection keys when they differ from both the logits and `scores` (a bias is present).
    let keys: UnsafeMutablePointer<Float>
    var selector: TopKSelector
    var groups: GroupLimitedSelection?
    let thresholdTopK: ThresholdTopK
    /// Float sums of the load-balancing scores of the pending tokens, and where they go.
    let pendingScores: UnsafeMutablePointer<Float>
    var pendingTarget: UnsafeMutablePointer<Double>?
    var pendingRows = 0

    init(_ configuration: GatingConfiguration, bias: UnsafePointer<Float>?) {
        self.configuration = configuration
        experts = configuration.totalExpertCount
        paddedExperts = (experts + 7) & ~7
        self.bias = bias
        scores = .allocate(capacity: paddedExperts)
        keys = .allocate(capacity: paddedExperts)
        let k = configuration.topK
        selector = TopKSelector(capacity: k)
        groups = configuration.groupCount > 1 ? GroupLimitedSelection(configuration) : nil
        thresholdTopK = ThresholdTopK(count: experts)
        pendingScores = .allocate(capacity: paddedExperts)
        pendingScores.initialize(repeating: 0, count: paddedExperts)
    }

    func deallocate() {
        scores.deallocate(); keys.deallocate()
        selector.deallocate()
        groups?.deallocate()
        thresholdTopK.deallocate()
        pendingScores.deallocate()
    }

    /// Adds the pending Float score sums to their Double sums and clears them. Call it after the
    /// last row of a block.
    @inline(__always)
    mutating func flush() {
        guard let target = pendingTarget else { return }
        var j = 0
        while j < paddedExperts {
            addToDoubles(UnsafePointer(pendingScores).loadVector(at: j, as: SIMD8<Float>.self), target, j)
            pendingScores.storeVector(SIMD8(), at: j)
            j &+= 8
        }
        pendingTarget = nil
        pendingRows = 0
    }

    /// Row statistics: m = max xⱼ and s = Σⱼ e^{xⱼ − m}, so that lse = m + log s.
    struct RowResult {
        var max: Float
        var sum: Float
        var realExperts: Int32
        var finite: Bool
    }

    /// Routes row `x` (E′ logits): writes k `indices` and `weights`, adds 1 to `counts[e]` per
    /// selected expert and the row's load-balancing scores to `sums` (E′ padded Doubles; added
    /// by a later route or `flush()`).
    @inline(__always)
    mutating func route(
        _ x: UnsafePointer<Float>, indices: UnsafeMutablePointer<Int32>, weights: UnsafeMutablePointer<Float>,
        counts: UnsafeMutablePointer<Int64>, sums: UnsafeMutablePointer<Double>
    ) -> RowResult {
        let (m, finite) = rowMax(x)
        guard finite else { return RowResult(max: 0, sum: 1, realExperts: 0, finite: false) }
        let s = exponentials(x, m)
        if pendingTarget != sums || pendingRows == Self.rowsPerFlush { flush() }
        pendingTarget = sums
        pendingRows &+= 1
        accumulateScores(x, rowSum: s)
        select(x)
        writeWeights(x, indices: indices, weights: weights)
        var real: Int32 = 0
        for a in 0..<configuration.topK {
            let e = Int(selector.index[a])
            counts[e] &+= 1
            if e < configuration.expertCount { real += 1 }
        }
        return RowResult(max: m, sum: s, realExperts: real, finite: true)
    }

    /// max xⱼ, and whether every xⱼ is finite (x·0 is 0 for finite x, NaN otherwise).
    @inline(__always)
    private func rowMax(_ x: UnsafePointer<Float>) -> (Float, Bool) {
        var best = SIMD8<Float>(repeating: -.infinity)
        var check = SIMD8<Float>()
        var j = 0
        while j &+ 8 <= experts {
            let v = x.loadVector(at: j, as: SIMD8<Float>.self)
            best = Float.maximum(best, v)
            check += v * 0
            j &+= 8
        }
        if j < experts {
            let v = x.loadVector(at: j, count: experts - j, padding: x[j], as: SIMD8<Float>.self)
            best = Float.maximum(best, v)
            check += v * 0
        }
        // A NaN in `best` is caught by `check`, which is NaN too.
        return (Float.largestLane(best), Float.sumOfLanes(check) == 0)
    }

    /// Stores e^{xⱼ − m} in `scores` (0 in the padding, and for terms below 2⁻¹²⁶, which are
    /// far under the sum's resolution) and returns their sum.
    @inline(__always)
    private func exponentials(_ x: UnsafePointer<Float>, _ m: Float) -> Float {
        let shift = SIMD8<Float>(repeating: m)
        var total = SIMD8<Float>()
        var j = 0
        while j &+ 8 <= experts {
            let e = Float.exponentialOfShift(x.loadVector(at: j, as: SIMD8<Float>.self) - shift)
            scores.storeVector(e, at: j)
            total += e
            j &+= 8
        }
        if j < experts {
            let e = Float.exponentialOfShift(x.loadVector(at: j, count: experts - j, padding: -.infinity, as: SIMD8<Float>.self) - shift)
            scores.storeVector(e, at: j)
            total += e
        }
        return Float.sumOfLanes(total)
    }

    /// Turns `scores` into softmax probabilities or sigmoids and adds the load-balancing scores
    /// (softmax pⱼ, or σⱼ/Σσ) to `pendingScores`.
    @inline(__always)
    private func accumulateScores(_ x: UnsafePointer<Float>, rowSum: Float) {
        let inverse = SIMD8<Float>(repeating: 1 / rowSum)
        switch configuration.scoreFunction {
        case .softmax:
            var j = 0
            // Keep e^{x−m} for the weights unless the selection needs the probabilities.
            let keepProbabilities = configuration.preSoftmax
            while j < paddedExperts {
                let e = UnsafePointer(scores).loadVector(at: j, as: SIMD8<Float>.self)
                if keepProbabilities { scores.storeVector(e * inverse, at: j) }
                pendingScores.storeVector(Float.multiplyAdd(e, inverse, UnsafePointer(pendingScores).loadVector(at: j, as: SIMD8<Float>.self)), at: j)
                j &+= 8
            }
        case .sigmoid:
            // scores holds e^{x−m}; the softmax form is the fallback of σ/Σσ for tiny sums.
            var total = SIMD8<Float>()
            var j = 0
            while j < paddedExperts {
                let v = j + 8 <= experts ? x.loadVector(at: j, as: SIMD8<Float>.self) : x.loadVector(at: j, count: experts - j, padding: -.infinity, as: SIMD8<Float>.self)
                let sigma = 1 / (1 + Float.exp(-v))
                total += sigma
                keys.storeVector(sigma, at: j)
                j &+= 8
            }
            let sigmaSum = Float.sumOfLanes(total)
            let scale = SIMD8<Float>(repeating: sigmaSum < sigmoidSumFloor ? 0 : 1 / sigmaSum)
            let fallback = sigmaSum < sigmoidSumFloor ? inverse : SIMD8<Float>()
            j = 0
            while j < paddedExperts {
                let sigma = UnsafePointer(keys).loadVector(at: j, as: SIMD8<Float>.self)
                let score = Float.multiplyAdd(UnsafePointer(scores).loadVector(at: j, as: SIMD8<Float>.self), fallback, sigma * scale)
                pendingScores.storeVector(UnsafePointer(pendingScores).loadVector(at: j, as: SIMD8<Float>.self) + score, at: j)
                scores.storeVector(sigma, at: j)
                j &+= 8
            }
        }
    }

    /// Chooses the top k of the selection keys into `selector`.
    @inline(__always)
    private mutating func select(_ x: UnsafePointer<Float>) {
        let usesLogits = configuration.scoreFunction == .softmax && !configuration.preSoftmax
        var base = usesLogits ? x : UnsafePointer(scores)
        if let bias {
            var j = 0
            while j < paddedExperts {
                let v = j + 8 <= experts || !usesLogits ? base.loadVector(at: j, as: SIMD8<Float>.self) : base.loadVector(at: j, count: experts - j, padding: 0, as: SIMD8<Float>.self)
                keys.storeVector(v + bias.loadVector(at: j, as: SIMD8<Float>.self), at: j)
                j &+= 8
            }
            base = UnsafePointer(keys)
        }
        if groups != nil {
            groups!.select(base, into: &selector)
        } else if configuration.topK <= ThresholdTopK.maximumK {
            thresholdTopK.select(base, count: experts, into: &selector)
        } else {
            let k = configuration.topK
            selector.reset()
            selector.scan(base, 0..<experts, lowerBound: k <= 16 ? LaneTopK.lowerBound(base, count: experts, k: k) : nil)
        }
    }

    /// Writes the selected experts and their weights (see `GatingConfiguration`).
    @inline(__always)
    private func writeWeights(_ x: UnsafePointer<Float>, indices: UnsafeMutablePointer<Int32>, weights: UnsafeMutablePointer<Float>) {
        let k = configuration.topK
        for a in 0..<k { indices[a] = selector.index[a] }
        let chosen = UnsafePointer(selector.index)
        if configuration.weightsAreSelectedSoftmax && !configuration.preSoftmax && bias == nil {
            // Top-k of the logits without a bias selects the row maximum m, so `scores` already
            // holds the e^{x−m} that `selectedSoftmax` would compute: the same weights, bit for bit.
            var total: Float = 0
            for a in 0..<k { total += scores[Int(chosen[a])] }
            for a in 0..<k { weights[a] = scores[Int(chosen[a])] / total }
        } else if configuration.weightsAreSelectedSoftmax {
            selectedSoftmax(x, chosen, k, into: weights)
        } else if configuration.scoreFunction == .sigmoid && configuration.normalizeTopK {
            normalizedOrSoftmax(scores, x, chosen, k, into: weights)
        } else {
            for a in 0..<k { weights[a] = scores[Int(chosen[a])] }
        }
        let lambda = configuration.scalingFactor
        if lambda != 1 { for a in 0..<k { weights[a] *= lambda } }
    }
}

/// sums[j ..< j + 8] += Double(v).
@inline(__always)
func addToDoubles(_ v: SIMD8<Float>, _ sums: UnsafeMutablePointer<Double>, _ j: Int) {
    let raw = UnsafeMutableRawPointer(sums + j)
    let low = raw.loadUnaligned(as: SIMD4<Double>.self) + SIMD4<Double>(v.lowHalf)
    let high = raw.loadUnaligned(fromByteOffset: 32, as: SIMD4<Double>.self) + SIMD4<Double>(v.highHalf)
    raw.storeBytes(of: low, as: SIMD4<Double>.self)
    raw.storeBytes(of: high, toByteOffset: 32, as: SIMD4<Double>.self)
}
