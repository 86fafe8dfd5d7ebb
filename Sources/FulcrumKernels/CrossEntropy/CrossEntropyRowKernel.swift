// One row of the fused softmax cross-entropy: a few passes over a row that stays in cache.
//
//   A  max of z over the classes before the target and after it (and the finiteness probe);
//   S  only with label smoothing: Σ_j w_j·(m − z_j) over the included classes (all terms ≥ 0);
//   B  e_j = e^{z_j − m} summed (in Double, per 512-element chunk), stored in the output buffer
//      when the gradient pass can reuse it; a row ahead (the caller's choice) is prefetched
//      meanwhile, so that its pass A finds it in cache and its memory traffic overlaps this
//      arithmetic;
//   C  the gradient (or the probabilities) written once.
//
// Every pass runs over whole vectors of the row; in the one vector that holds the target, the
// target's lane is split off with a lane mask. Splitting at the target gives Σ_{j≠y} e_j on its own, so −log p_y = log1p(Σ_{j≠y}e_j / e_y)
// and 1 − p_y = Σ_{j≠y}e_j / s keep full relative accuracy even when p_y rounds to 1, and the
// argmax test (ties to the lower index) falls out of the two segment maxima.

/// Row-independent settings of one call, validated by the caller.
@usableFromInline
struct CrossEntropyPlan<T: FulcrumFloat>: @unchecked Sendable {
    @usableFromInline var classes: Int
    @usableFromInline var weights: UnsafePointer<T>?
    @usableFromInline var smoothing: Double
    @usableFromInline var zLossCoefficient: Double
    /// The per-row modulation (the focal factor, or a caller's), nil for plain cross-entropy.
    @usableFromInline let modulation: (any CrossEntropyRowModulation)?
    /// `modulation != nil`, stored so that a plain row tests a Bool instead of the existential
    /// (whose optional test and copy go through runtime witness calls on every row).
    @usableFromInline let isModulated: Bool
    /// Σ_j w_j over all classes (the class count without weights).
    @usableFromInline var weightTotal: Double
    /// Upstream gradient × 1/denominator for `.mean`.
    @usableFromInline var gradientScale: Double
    /// Whether rows may exclude classes (then K and W are counted per row).
    @usableFromInline var hasExclusions: Bool
    /// Whether the caller wants each row's log-sum-exp even where the loss does not need it.
    @usableFromInline var wantsLogSumExp: Bool

    @inlinable
    init(classes: Int, weights: UnsafePointer<T>?, smoothing: Double, zLossCoefficient: Double,
         modulation: (any CrossEntropyRowModulation)?, weightTotal: Double, gradientScale: Double, hasExclusions: Bool, wantsLogSumExp: Bool) {
        self.classes = classes
        self.weights = weights
        self.smoothing = smoothing
        self.zLossCoefficient = zLossCoefficient
        self.modulation = modulation
        isModulated = modulation != nil
        self.weightTotal = weightTotal
        self.gradientScale = gradientScale
        self.hasExclusions = hasExclusions
        self.wantsLogSumExp = wantsLogSumExp
    }
}

/// What the final pass writes into the row's output buffer.
@usableFromInline
enum RowDestination: Sendable {
    case nothing, gradient, probabilities
}

/// What one row produced.
@usableFromInline
struct RowOutcome {
    @usableFromInline var loss: Double = 0
    @usableFromInline var zLoss: Double = 0
    @usableFromInline var logSumExp: Double = 0
    @usableFromInline var correct = false
    /// The row's loss is `loss + logFactor·log1p(logArgument)`: for a plain row the caller adds
    /// that term, four rows to one vector `Double.logOnePlus`, so that the logarithm's long
    /// dependency chain stays out of the row's (0 and 0 when `loss` is whole).
    @usableFromInline var logArgument = 0.0, logFactor = 0.0
    /// The first non-finite logit's column; the row's outputs are then unwritten.
    @usableFromInline var nonFiniteColumn: Int?

    @inlinable init() {}
}

/// Rows of at most this many classes may take the one-pass start (`crossEntropyRow`'s
/// `scratch`): the row and its scratch (4 KiB each at 1024 Float classes) stay in L1 between the
/// passes, and its sum of exponentials runs in one vector of partial sums, at most 64 terms per
/// Float lane (relative error below 64·2⁻²⁴; `chunkedSum` has 32 per lane per chunk) and 256
/// per Double lane. Raising it from 512 to 1024 took the in-place forward+backward at
/// 16384×1024 from 3.4–3.8 ms to 2.9–3.4 ms on 2 threads.
@usableFromInline let shortRowClasses = 1024

/// The fused forward (and backward) of one row. `y` is the target class, or −1 for a row with
/// no target (probabilities only); `row` is the row's index, passed to the modulation. `output` must be non-nil unless `destination == .nothing`; it
/// may be the logits row itself (in place). `upcoming` is a later row (of the same length) whose
/// cache lines the exponential pass prefetches (a hint, nil for none).
///
/// `scratch` (room for `classes` values, nil for none) lets a short row (`shortRowClasses`)
/// with a target, plain scores and no label smoothing run passes A and B as one: its
/// exponentials are shifted by the target's logit c = z_y, known before the pass, instead of
/// the row maximum m, so they need not wait for the maxima, and they go to `scratch`, so that an
/// in-place row that turns out non-finite still holds its logits. The softmax and the loss do not
/// depend on the shift; a row with m − c > 64 (p_y < e⁻⁶⁴, where e^{z−c} could overflow)
/// runs pass B again shifted by m.
@inlinable @inline(__always)
func crossEntropyRow<S: RowScores>(
    _ scores: S, row: Int, target y: Int, plan: CrossEntropyPlan<S.T>,
    output: UnsafeMutablePointer<S.T>?, destination: RowDestination, upcoming: UnsafePointer<S.T>?,
    scratch: UnsafeMutablePointer<S.T>? = nil
) -> RowOutcome {
    typealias T = S.T
    let classes = plan.classes
    let split = y >= 0 ? y : classes
    var outcome = RowOutcome()
    let target = y >= 0 ? scores.target(y) : (z: -T.infinity, probe: 0, slope: 0)
    let onePass = scratch != nil && y >= 0 && S.reusesExponentials && plan.smoothing == 0
        && destination != .nothing && classes <= shortRowClasses
    let targetShift = T.Vector(repeating: target.z)
    var shifted = T.Vector()  // one pass: Σ_{j≠y} e^{z_j − c}

    // Pass A: segment maxima and the finiteness probe (one pass: and the exponentials).
    var maxBefore = T.Vector(repeating: -.infinity), maxAfter = maxBefore
    var probe = T.Vector()
    @inline(__always) func exponentials(_ z: T.Vector, _ j: Int, _ count: Int) -> T.Vector {
        upcoming?.prefetch(at: j)
        let e = T.exponentialOfShift(z - targetShift)
        scratch.unsafelyUnwrapped.storeVector(e, at: j, count: count)
        return e
    }
    // The vectors before the one holding the target, that vector split at the target's lane, the rest.
    let splitVector = split - split % T.vectorWidth
    forEachVector(T.self, from: 0, to: splitVector) { j, count in
        let s = scores.scores(at: j, count: count)
        probe += s.probe
        maxBefore = T.maximum(s.z, maxBefore)
        if onePass { shifted += exponentials(s.z, j, count) }
    }
    if splitVector < classes {
        let count = min(T.vectorWidth, classes - splitVector)
        let s = scores.scores(at: splitVector, count: count)
        probe += s.probe
        let halves = T.split(s.z, atLane: split - splitVector, fill: -.infinity)
        maxBefore = T.maximum(halves.before, maxBefore)
        maxAfter = T.maximum(halves.after, maxAfter)
        if onePass {
            let e = T.split(exponentials(s.z, splitVector, count), atLane: split - splitVector, fill: 0)
            shifted += e.before + e.after
        }
    }
    forEachVector(T.self, from: min(classes, splitVector + T.vectorWidth), to: classes) { j, count in
        let s = scores.scores(at: j, count: count)
        probe += s.probe
        maxAfter = T.maximum(s.z, maxAfter)
        if onePass { shifted += exponentials(s.z, j, count) }
    }
    guard T.sumOfLanes(probe).isFinite else {
        outcome.nonFiniteColumn = (0..<classes).first { !scores.scores(at: $0, count: 1).probe[0].isFinite } ?? 0
        return outcome
    }
    let (highBefore, highAfter) = (T.largestLane(maxBefore), T.largestLane(maxAfter))
    let m = max(highBefore, highAfter, target.z)
    guard m > -.infinity else {
        // Every class excluded and no target: an all-zero row.
        if destination != .nothing, let output { output.update(repeating: 0, count: classes) }
        outcome.logSumExp = -.infinity
        return outcome
    }
    let mv = T.Vector(repeating: m)
    /// `v` with the target's lane set to 0 (when this vector holds the target).
    @inline(__always) func withoutTarget(_ v: T.Vector, _ j: Int, _ count: Int) -> T.Vector {
        guard j <= y, y < j + count else { return v }
        let halves = T.split(v, atLane: y - j, fill: 0)
        return halves.before + halves.after
    }

    // Pass S: the label-smoothing sums, only when asked for.
    let smoothing = y >= 0 ? plan.smoothing : 0
    var included = Double(classes), includedWeight = plan.weightTotal, smoothSum = 0.0
    if smoothing > 0 {
        let wy = Double(plan.weights?[y] ?? 1)
        let weights = plan.weights
        /// w_j·(m − z_j) on included lanes, 0 on excluded ones (z = −∞) and on the target's.
        @inline(__always) func gap(_ j: Int, _ count: Int) -> T.Vector {
            let z = scores.scores(at: j, count: count).z
            var g = T.select(where: z, isLessThan: T.Vector(repeating: -.greatestFiniteMagnitude), T.Vector(), else: mv - z)
            if let weights { g *= weights.loadVector(at: j, count: count) }
            return withoutTarget(g, j, count)
        }
        smoothSum = chunkedSum(T.self, from: 0, to: classes, gap) + wy * Double(m - target.z)
        if plan.hasExclusions {
            included = 1 + chunkedSum(T.self, from: 0, to: classes) { withoutTarget(scores.inclusion(at: $0, count: $1), $0, $1) }
            if let weights {
                includedWeight = wy + chunkedSum(T.self, from: 0, to: classes) {
                    withoutTarget(scores.inclusion(at: $0, count: $1) * weights.loadVector(at: $0, count: $1), $0, $1)
                }
            } else {
                includedWeight = included
            }
        }
    }

    // Pass B: the exponentials, kept in the output when the last pass can reuse them (done
    // already in one pass, shifted by c, unless m − c is too large).
    let shiftedByTarget = onePass && m - target.z <= 64
    let shift = shiftedByTarget ? target.z : m
    let exponentialsRow = shiftedByTarget ? scratch : output
    let keep = S.reusesExponentials && destination != .nothing
    let rest = shiftedByTarget ? Double(T.sumOfLanes(shifted)) : chunkedSum(T.self, from: 0, to: classes) { j, count in
        upcoming?.prefetch(at: j)
        let e = T.exponentialOfShift(scores.scores(at: j, count: count).z - mv)
        if keep { output.unsafelyUnwrapped.storeVector(e, at: j, count: count) }
        return withoutTarget(e, j, count)
    }
    // e^{z_y − c} = 1 when shifted by the target itself.
    let ey = shiftedByTarget ? 1 : y >= 0 ? Double(T.exponentialOfShift(T.Vector(repeating: target.z - m))[0]) : 0
    let s = rest + ey
    let ratio = rest / ey
    let direct = y >= 0 && ey > 0 && ratio.isFinite  // −log p_y = log1p(ratio) needs no lse
    let needsLogSumExp = !direct || smoothing > 0 || plan.zLossCoefficient > 0 || plan.wantsLogSumExp
    let logS = needsLogSumExp ? Double.log(s) : .nan
    outcome.logSumExp = Double(shift) + logS

    // The row's scalars, in Double.
    var alpha = 1.0, targetGradient = 0.0, beta = 0.0
    if y >= 0 {
        let wy = Double(plan.weights?[y] ?? 1)
        // Plain rows leave −log p_y = log1p(ratio) to the caller (`RowOutcome.logArgument`).
        let defersLogarithm = direct && smoothing == 0 && !plan.isModulated
        let nll = defersLogarithm ? 0 : direct ? Double.logOnePlus(ratio) : Double(shift - target.z) + logS
        let spread = smoothing / included
        let ce = (1 - smoothing) * wy * nll + (smoothing > 0 ? spread * (smoothSum + includedWeight * logS) : 0)
        let miss = rest / s  // 1 − p_y, accurate near p_y = 1
        var modulation = 1.0, slope = 0.0, loss = ce  // ∂ℓ/∂CE and −∂ℓ/∂log p_y
        if plan.isModulated, let hook = plan.modulation {
            let r = hook.modulate(CrossEntropyRowStatistics(
                row: row, target: y, targetWeight: wy, negativeLogLikelihood: nll,
                targetProbability: ey / s, missProbability: miss, crossEntropy: ce))
            (loss, modulation, slope) = (r.loss, r.crossEntropyFactor, -r.logProbabilityFactor)
        }
        var zTerm = 0.0
        if plan.zLossCoefficient > 0 {
            zTerm = 2 * plan.zLossCoefficient * wy * outcome.logSumExp
            outcome.zLoss = plan.zLossCoefficient * wy * outcome.logSumExp * outcome.logSumExp
        }
        outcome.loss = loss + outcome.zLoss
        if defersLogarithm { (outcome.logArgument, outcome.logFactor) = (ratio, wy) }
        alpha = modulation * ((1 - smoothing) * wy + spread * includedWeight) + slope + zTerm
        beta = modulation * spread
        targetGradient = -alpha * miss + modulation * spread * (includedWeight - wy) + zTerm
        outcome.correct = target.z > highBefore && target.z >= highAfter
    }

    // Pass C: the gradient or the probabilities, written once.
    guard destination != .nothing, let output else { return outcome }
    let scale = destination == .gradient ? plan.gradientScale : 1
    let a = T.Vector(repeating: T(destination == .gradient ? alpha / s * scale : 1 / s))
    let b = T.Vector(repeating: T(beta * scale))
    let reuse = UnsafePointer(exponentialsRow.unsafelyUnwrapped)
    @inline(__always) func write(_ j: Int, _ count: Int) {
        var slope = T.Vector(repeating: 1)
        let e: T.Vector
        if S.reusesExponentials {
            e = reuse.loadVector(at: j, count: count)
        } else {
            let r = scores.scoresAndSlope(at: j, count: count)
            e = T.exponentialOfShift(r.z - mv)
            slope = r.slope
        }
        var g = e * a
        if destination == .gradient {
            if beta != 0 {
                var w = scores.inclusion(at: j, count: count)
                if let weights = plan.weights { w *= weights.loadVector(at: j, count: count) }
                g -= w * b
            }
            g *= slope
        }
        output.storeVector(g, at: j, count: count)
    }
    forEachVector(T.self, from: 0, to: classes, write)
    if y >= 0 {
        output[y] = destination == .gradient ? T(targetGradient * scale) * target.slope : T(ey / s)
    }
    return outcome
}
