/// Caller memory the gating forward pass writes, for N tokens, k = `topK`, E′ experts and S
/// sequences (S = 1 unless the call passes `sequenceOffsets`).
///
/// One routing map serves dispatch, counts and the load-balancing loss: `indices` is the only
/// record of the selection, `expertCounts` is counted from it in the same pass, and the backward
/// pass reads it back, so the three can never disagree.
public struct GatingOutputs: @unchecked Sendable {
    /// N×k chosen experts, best first (ties: lower expert index first). An assignment dropped by
    /// the capacity limit is stored as `~e` (= −e − 1, always negative) so that it stays visible:
    /// `index >= 0` means "dispatch to expert `index`".
    public var indices: MutableMatrixView<Int32>
    /// N×k weights; 0 for a dropped assignment.
    public var weights: MutableMatrixView<Float>
    /// N row log-sum-exps of the logits, lseₜ = log Σⱼ e^{xₜⱼ}: the router z-loss is mean(lse²).
    public var logSumExp: UnsafeMutableBufferPointer<Float>
    /// N counts of real (non-null) experts among the k selected (before any capacity drop).
    public var realExpertCounts: UnsafeMutableBufferPointer<Int32>
    /// S×E′ assignments per sequence and expert, counted before any capacity drop (the router's
    /// demand, which the load-balancing loss and the bias update use).
    public var expertCounts: MutableMatrixView<Int64>
    /// S×E′ sums over the sequence's tokens of the load-balancing score sₜⱼ (the softmax
    /// probability, or σⱼ/Σσ for sigmoid): summed in Float over runs of at most 256 tokens, each
    /// Float sum taking at most 35 rounding steps (relative error below 3·10⁻⁶ per run), the runs
    /// accumulated in Double.
    public var scoreSums: MutableMatrixView<Double>

    /// Groups the views; the forward pass checks their shapes.
    public init(
        indices: MutableMatrixView<Int32>, weights: MutableMatrixView<Float>,
        logSumExp: UnsafeMutableBufferPointer<Float>, realExpertCounts: UnsafeMutableBufferPointer<Int32>,
        expertCounts: MutableMatrixView<Int64>, scoreSums: MutableMatrixView<Double>
    ) {
        self.indices = indices
        self.weights = weights
        self.logSumExp = logSumExp
        self.realExpertCounts = realExpertCounts
        self.expertCounts = expertCounts
        self.scoreSums = scoreSums
    }

    func checkShapes(tokens: Int, topK: Int, experts: Int, sequences: Int) throws {
        try checkShape(MatrixView(indices), rows: tokens, columns: topK, argument: "indices")
        try checkShape(MatrixView(weights), rows: tokens, columns: topK, argument: "weights")
        try checkCount(logSumExp.count, tokens, argument: "logSumExp")
        try checkCount(realExpertCounts.count, tokens, argument: "realExpertCounts")
        try checkShape(MatrixView(expertCounts), rows: sequences, columns: experts, argument: "expertCounts")
        try checkShape(MatrixView(scoreSums), rows: sequences, columns: experts, argument: "scoreSums")
    }
}

/// What a forward pass reports besides its outputs.
public struct GatingSummary: Sendable, Equatable {
    /// C, the per-expert capacity of this call, or `nil` without a capacity factor.
    public var capacity: Int?
    /// Assignments dropped by the capacity limit (marked `~e` in `indices`).
    public var droppedAssignments: Int
}

/// Checks sequence boundaries `o₀ = 0 < o₁ < … < o_S = N` and returns them (`[0, N]` for nil).
func validatedSequenceOffsets(_ offsets: [Int]?, tokenCount: Int) throws -> [Int] {
    guard let offsets else { return [0, tokenCount] }
    let increasing = zip(offsets, offsets.dropFirst()).allSatisfy { $0 < $1 }
    guard offsets.count >= 2, offsets.first == 0, offsets.last == tokenCount, increasing else {
        throw FulcrumError.invalidParameter(
            argument: "sequenceOffsets", value: "\(offsets.prefix(8))\(offsets.count > 8 ? "…" : "")",
            requirement: "strictly increasing from 0 to the token count N = \(tokenCount)")
    }
    return offsets
}
