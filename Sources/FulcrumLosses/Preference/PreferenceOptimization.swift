import FulcrumKernels

/// A preference-optimization step from policy logits: sequence log-probabilities of the chosen and
/// rejected responses (`SequenceLogProbabilities`), a `PreferenceLoss` on them, and the gradient
/// carried back to both logit tensors through the sequence kernel.
///
/// The chosen and rejected batches hold P sequences of L tokens each ((P·L)×V logits, see
/// `SequenceLogProbabilities` for the layout and masks). Reference log-probabilities are inputs
/// (computed once by the caller with `SequenceLogProbabilities.forward` on the reference model).
/// Cost: the logits are read twice (forward, then backward once the per-sequence upstream is
/// known) and the gradients written once; O(P·L·V).
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

    /// A step with sequences of `sequenceLength` tokens.
    public init(loss: PreferenceLoss, sequenceLength: Int, ignoreIndex: Int32 = -100) {
        self.loss = loss
        self.sequences = SequenceLogProbabilities(sequenceLength: sequenceLength, ignoreIndex: ignoreIndex)
    }

    /// The mean loss over pairs, the policy log-probabilities, and dL/dlogits for both batches.
    /// - Throws: what `SequenceLogProbabilities` and `PreferenceLoss` throw (arguments named
    ///   for the chosen or rejected side), and `rejectedLogits` when the batches differ in size.
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
        var result = PreferenceResult<T>(loss: 0, policyChosen: .init(repeating: 0, count: pairs),
                                         policyRejected: .init(repeating: 0, count: pairs))
        var lengths = [Int32](repeating: 0, count: 2 * pairs)
        try lengths.withUnsafeMutableBufferPointer { counts in
            try result.policyChosen.withUnsafeMutableBufferPointer {
                try sequences.forward(logits: chosenLogits, targets: chosenTargets, mask: chosenMask, logProbabilities: $0,
                                      tokenCounts: UnsafeMutableBufferPointer(rebasing: counts[0..<pairs]))
            }
            try result.policyRejected.withUnsafeMutableBufferPointer {
                try sequences.forward(logits: rejectedLogits, targets: rejectedTargets, mask: rejectedMask, logProbabilities: $0,
                                      tokenCounts: UnsafeMutableBufferPointer(rebasing: counts[pairs...]))
            }
        }
        var upstream = [T](repeating: 0, count: 2 * pairs)
        result.loss = try upstream.withUnsafeMutableBufferPointer { u in
            try result.policyChosen.withUnsafeBufferPointer { pw in
                try result.policyRejected.withUnsafeBufferPointer { pl in
                    try lengths.withUnsafeBufferPointer { n in
                        try loss.lossAndGradient(
                            policyChosen: pw, policyRejected: pl, referenceChosen: referenceChosen, referenceRejected: referenceRejected,
                            chosenLengths: UnsafeBufferPointer(rebasing: n[0..<pairs]),
                            rejectedLengths: UnsafeBufferPointer(rebasing: n[pairs...]),
                            chosenGradient: UnsafeMutableBufferPointer(rebasing: u[0..<pairs]),
                            rejectedGradient: UnsafeMutableBufferPointer(rebasing: u[pairs...]))
                    }
                }
            }
        }
        try upstream.withUnsafeBufferPointer { u in
            try sequences.backward(logits: chosenLogits, targets: chosenTargets, mask: chosenMask,
                                   upstream: UnsafeBufferPointer(rebasing: u[0..<pairs]), gradient: chosenGradient)
            try sequences.backward(logits: rejectedLogits, targets: rejectedTargets, mask: rejectedMask,
                                   upstream: UnsafeBufferPointer(rebasing: u[pairs...]), gradient: rejectedGradient)
        }
        return result
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
