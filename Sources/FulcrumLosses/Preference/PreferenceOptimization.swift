import FulcrumKernels

/// A preference-optimization step from policy logits: sequence log-probabilities of the chosen and
/// rejected responses (`SequenceLogProbabilities`), a `PreferenceLoss` on them, and the gradient
/// carried back to both logit tensors through the sequence kernel.
///
/// The chosen and rejected batches hold P sequences of L tokens each ((P·L)×V logits, see
/// `SequenceLogProbabilities` for the layout and masks). Reference log-probabilities are inputs
/// (computed once by the caller with `SequenceLogProbabilities.forward` on the reference model).
///
/// Cost: O(P·L·V). When the gradient rows of a pair fit in `pairBlockBytes` (2·L·V elements; 2 MiB
/// by default, so that they stay in cache), pairs are taken a block at a time: the forward
/// writes each token's cross-entropy gradient p − onehot(y) into the gradient rows, the block's
/// losses give its upstream, and the backward rescales those cached rows by −upstream. The
/// logits are then read once, the gradients written once, and each element takes one
/// exponential. Longer pairs take two passes over the whole batch: the forward, then the
/// backward once every upstream is known (the logits read twice, two exponentials per element).
/// On the cached path each gradient may be its logits' own memory (the same base and row
/// stride): the gradient is then written over the logits, with no second buffer, as
/// `SoftmaxCrossEntropy.lossAndGradient(inPlace:…)` does; the two-pass path throws for it. On a
/// thrown error the gradient buffers' contents (and in place, the logits) are unspecified.
///
/// ```swift
/// let step = PreferenceOptimization<Float>(loss: PreferenceLoss(.dpo, beta: 0.1), sequenceLength: 512)
/// let r = try step.lossAndGradient(chosenLogits: cw, chosenTargets: yw, rejectedLogits: cl, rejectedTargets: yl,
///                                  referenceChosen: rw, referenceRejected: rl,
///                                  chosenGradient: gw, rejectedGradient: gl)
/// ```
public struct PreferenceOptimization<T: FulcrumFloat>: Sendable {
    /// The pairwise loss on the sequence log-probabilities.
    public var loss: PreferenceLoss
    /// The sequence layout (length, ignore index) of both batches.
    public var sequences: SequenceLogProbabilities<T>
    /// The cache budget of one block of pairs, in bytes of gradient rows (2·L·V elements per
    /// pair; 2 MiB by default, about a core's L2 and its share of L3). Pairs larger than this take
    /// the two-pass path, which reads the logits twice; 0 forces it.
    public var pairBlockBytes = 2 << 20

    /// A step with sequences of `sequenceLength` tokens.
    public init(loss: PreferenceLoss, sequenceLength: Int, ignoreIndex: Int32 = -100) {
        self.loss = loss
        self.sequences = SequenceLogProbabilities(sequenceLength: sequenceLength, ignoreIndex: ignoreIndex)
    }

    /// The mean loss over pairs, the policy log-probabilities, and dL/dlogits for both batches.
    /// - Throws: what `SequenceLogProbabilities` and `PreferenceLoss` throw (arguments named
    ///   for the chosen or rejected side), `rejectedLogits` when the batches differ in size, and
    ///   `emptyReduction` naming `chosenLogits` for an empty batch.
    @specialized(where T == Float)
    @specialized(where T == Double)
    public func lossAndGradient(
        chosenLogits: MatrixView<T>, chosenTargets: UnsafeBufferPointer<Int32>, chosenMask: UnsafeBufferPointer<UInt8>? = nil,
        rejectedLogits: MatrixView<T>, rejectedTargets: UnsafeBufferPointer<Int32>, rejectedMask: UnsafeBufferPointer<UInt8>? = nil,
        referenceChosen: UnsafeBufferPointer<T>? = nil, referenceRejected: UnsafeBufferPointer<T>? = nil,
        chosenGradient: MutableMatrixView<T>, rejectedGradient: MutableMatrixView<T>
    ) throws -> PreferenceResult<T> {
        try loss.validateParameters()
        try checkShape(rejectedLogits, rows: chosenLogits.rows, columns: chosenLogits.columns, argument: "rejectedLogits")
        try checkShape(MatrixView(chosenGradient), rows: chosenLogits.rows, columns: chosenLogits.columns, argument: "chosenGradient")
        try checkShape(MatrixView(rejectedGradient), rows: chosenLogits.rows, columns: chosenLogits.columns, argument: "rejectedGradient")
        let pairs = try sequences.validate(logits: chosenLogits, targets: chosenTargets, mask: chosenMask)
        guard pairs > 0 else { throw FulcrumError.emptyReduction(argument: "chosenLogits", reason: "a mean over no pairs") }
        _ = try sequences.validate(logits: rejectedLogits, targets: rejectedTargets, mask: rejectedMask)
        let chosen = try sequences.countedTargets(chosenTargets, mask: chosenMask)
        let rejected = try sequences.countedTargets(rejectedTargets, mask: rejectedMask)
        // Blocks of cached pairs run on the workers, one block per worker at a time (the kernels
        // inside then run inline); the two-pass path is one block whose kernels use every thread.
        let pairBytes = 2 * sequences.sequenceLength * chosenLogits.columns * MemoryLayout<T>.stride
        let cached = pairBytes <= pairBlockBytes
        for (name, logits, gradient) in [("chosenGradient", chosenLogits, chosenGradient), ("rejectedGradient", rejectedLogits, rejectedGradient)]
        where gradient.startsAt(logits) && !(cached && gradient.rowStride == logits.rowStride) {
            throw FulcrumError.invalidParameter(argument: name, value: "its logits' memory",
                                                requirement: "its own buffer unless a pair's rows fit pairBlockBytes (same row stride)")
        }
        let pairsPerBlock = cached ? max(1, pairBlockBytes / max(1, pairBytes)) : pairs
        let sides = (SequenceBatch(logits: chosenLogits, targets: chosen, gradient: chosenGradient),
                     SequenceBatch(logits: rejectedLogits, targets: rejected, gradient: rejectedGradient))
        var result = PreferenceResult<T>(loss: 0, policyChosen: .init(repeating: 0, count: pairs),
                                         policyRejected: .init(repeating: 0, count: pairs))
        let blocks = (pairs + pairsPerBlock - 1) / pairsPerBlock
        var blockLosses = [Result<Double, any Error>](repeating: .success(0), count: blocks)
        blockLosses.withUnsafeMutableBufferPointer { blockLosses in
            result.policyChosen.withUnsafeMutableBufferPointer { policyChosen in
                result.policyRejected.withUnsafeMutableBufferPointer { policyRejected in
                    Threads.forEachBlock(count: pairs, blockSize: pairsPerBlock) { b, block in
                        blockLosses[b] = Result {
                            try step(block, sides, cached: cached, referenceChosen: referenceChosen, referenceRejected: referenceRejected,
                                     policy: (policyChosen, policyRejected), pairs: pairs)
                        }
                    }
                }
            }
        }
        var total = 0.0
        for blockLoss in blockLosses { total += try blockLoss.get() }  // in block order: deterministic
        result.loss = T(total / Double(pairs))
        return result
    }

    /// The pairs `block`: forward on both sides, the block's losses, backward; returns the sum of
    /// the block's pair losses. `cached`: the forward stores each row's cross-entropy gradient in the gradients
    /// and the backward rescales it; else the backward runs the fused kernel on the logits again.
    private func step(
        _ block: Range<Int>, _ sides: (SequenceBatch<T>, SequenceBatch<T>), cached: Bool,
        referenceChosen: UnsafeBufferPointer<T>?, referenceRejected: UnsafeBufferPointer<T>?,
        policy: (chosen: UnsafeMutableBufferPointer<T>, rejected: UnsafeMutableBufferPointer<T>), pairs: Int
    ) throws -> Double {
        let length = sequences.sequenceLength
        let rows = (block.lowerBound * length)..<(block.upperBound * length)
        var counts = [Int32](repeating: 0, count: 2 * block.count)
        let (policyChosen, policyRejected) = (UnsafeMutableBufferPointer(rebasing: policy.chosen[block]),
                                              UnsafeMutableBufferPointer(rebasing: policy.rejected[block]))
        try counts.withUnsafeMutableBufferPointer { n in
            try sides.0.forward(sequences, rows: rows, cached: cached, into: policyChosen,
                                counts: UnsafeMutableBufferPointer(rebasing: n[0..<block.count]))
            try sides.1.forward(sequences, rows: rows, cached: cached, into: policyRejected,
                                counts: UnsafeMutableBufferPointer(rebasing: n[block.count...]))
        }
        // The block's mean loss and upstream, rescaled to the mean over all pairs.
        var upstream = [T](repeating: 0, count: 2 * block.count)
        let mean = try upstream.withUnsafeMutableBufferPointer { u in
            try counts.withUnsafeBufferPointer { n in
                try loss.lossAndGradient(
                    policyChosen: UnsafeBufferPointer(policyChosen), policyRejected: UnsafeBufferPointer(policyRejected),
                    referenceChosen: referenceChosen.map { UnsafeBufferPointer(rebasing: $0[block]) },
                    referenceRejected: referenceRejected.map { UnsafeBufferPointer(rebasing: $0[block]) },
                    chosenLengths: UnsafeBufferPointer(rebasing: n[0..<block.count]),
                    rejectedLengths: UnsafeBufferPointer(rebasing: n[block.count...]),
                    chosenGradient: UnsafeMutableBufferPointer(rebasing: u[0..<block.count]),
                    rejectedGradient: UnsafeMutableBufferPointer(rebasing: u[block.count...]))
            }
        }
        let share = T(Double(block.count) / Double(pairs))
        upstream = upstream.map { $0 * share }
        try upstream.withUnsafeBufferPointer { u in
            try sides.0.backward(sequences, rows: rows, cached: cached, upstream: UnsafeBufferPointer(rebasing: u[0..<block.count]))
            try sides.1.backward(sequences, rows: rows, cached: cached, upstream: UnsafeBufferPointer(rebasing: u[block.count...]))
        }
        return Double(mean) * Double(block.count)
    }
}

/// One side (chosen or rejected) of a preference batch: logits, counted targets, gradient.
private struct SequenceBatch<T: FulcrumFloat> {
    let logits: MatrixView<T>
    let targets: [Int32]
    let gradient: MutableMatrixView<T>

    /// Sequence log-probabilities of `rows` into `into` (and counts); with `cached`, each row's
    /// cross-entropy gradient is kept in the gradient.
    func forward(_ sequences: SequenceLogProbabilities<T>, rows: Range<Int>, cached: Bool,
                 into logProbabilities: UnsafeMutableBufferPointer<T>, counts: UnsafeMutableBufferPointer<Int32>) throws {
        try targets.withUnsafeBufferPointer { t in
            try sequences.sums(logits: logits.rows(rows), effectiveTargets: UnsafeBufferPointer(rebasing: t[rows]),
                               crossEntropyGradient: cached ? gradient.rows(rows) : nil, logProbabilities: logProbabilities,
                               tokenCounts: counts)
        }
    }

    /// The gradient of `rows` for the per-sequence `upstream`: rescaling the cached rows, or the
    /// fused kernel over the logits.
    func backward(_ sequences: SequenceLogProbabilities<T>, rows: Range<Int>, cached: Bool, upstream: UnsafeBufferPointer<T>) throws {
        if cached { return sequences.backward(scaling: gradient.rows(rows), upstream: upstream) }
        try targets.withUnsafeBufferPointer { t in
            try sequences.backward(logits: logits.rows(rows), targets: UnsafeBufferPointer(rebasing: t[rows]), upstream: upstream,
                                   gradient: gradient.rows(rows))
        }
    }
}

/// The outputs of a preference-optimization step.
public struct PreferenceResult<T: FulcrumFloat>: Sendable, Equatable {
    /// The mean loss over pairs.
    public var loss: T
    /// log π(y_w|x) per pair.
    public var policyChosen: [T]
    /// log π(y_l|x) per pair.
    public var policyRejected: [T]
}
