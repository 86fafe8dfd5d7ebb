import FulcrumKernels

/// Global-batch load balancing ("Demons in the Detail: On Implementing Load Balancing Loss for
/// Training Specialized Mixture-of-Expert Models"): the loads fᵢ come from the counts of
/// *every* micro-batch of the step on *every* data-parallel rank, summed through a `Collective`;
/// each micro-batch's loss uses those global loads with its own local mean scores pᵢ and
/// differentiates into its own logits.
///
/// Two ways to use it, one accumulator:
/// - **two-phase (exact)**: route every micro-batch of the step, `record` each, `synchronize()`
///   once, then take `loss(for:)` of each micro-batch. All micro-batches see the same, final
///   global f. The mean of the losses over micro-batches and ranks equals the LBL of the
///   concatenated global batch when micro-batches have equal sizes (weight each by its token
///   share otherwise). Needs the routing statistics of all micro-batches before the first backward
///   (they are small: k·T indices and 2·E′ numbers each).
/// - **streaming (as Megatron-LM's global auxiliary loss)**: for each micro-batch,
///   `streamingLoss(for:)` records, synchronizes and evaluates at once, so micro-batch j uses the
///   running loads of micro-batches 1…j (of every rank). It needs no second pass, but early
///   micro-batches see loads from fewer tokens; only the last one uses the full global f. Call
///   `reset()` at the start of each step.
///
/// With one micro-batch and one rank both modes equal `LoadBalancingLoss.microBatch`.
public final class GlobalBatchBalance {
    /// The loss definition (router shape, α, null-expert handling).
    public let loss: LoadBalancingLoss
    /// How counts reach the other ranks.
    public let collective: any Collective
    private var pendingCounts: [Int64]
    private var pendingTokens: Int64 = 0
    /// E′ assignments per expert summed over every synchronized micro-batch and rank.
    public private(set) var globalCounts: [Int64]
    /// Tokens of every synchronized micro-batch and rank.
    public private(set) var globalTokens: Int64 = 0

    /// An empty accumulator.
    public init(loss: LoadBalancingLoss, collective: any Collective = SingleProcessCollective()) {
        self.loss = loss
        self.collective = collective
        pendingCounts = Array(repeating: 0, count: loss.configuration.totalExpertCount)
        globalCounts = pendingCounts
    }

    /// Forgets every count (call at the start of a training step).
    public func reset() {
        for e in pendingCounts.indices { pendingCounts[e] = 0; globalCounts[e] = 0 }
        pendingTokens = 0
        globalTokens = 0
    }

    /// Adds a local micro-batch's counts to the pending (not yet synchronized) counts.
    public func record(_ routing: GatingResult) throws {
        try loss.check(routing)
        let counts = routing.totalExpertCounts
        for e in counts.indices { pendingCounts[e] += counts[e] }
        pendingTokens += Int64(routing.tokenCount)
    }

    /// All-reduces the pending counts and token count over the ranks (one all-reduce of E′ + 1
    /// integers) and adds them to the global counts. Every rank must call it the same number of
    /// times.
    ///
    /// - Throws: the collective's errors; `shapeMismatch` naming `collective` when its reply is not
    ///   E′ + 1 long (the counts are then left as they were).
    public func synchronize() throws {
        var message = pendingCounts + [pendingTokens]
        try collective.allReduceSum(&message)
        guard message.count == globalCounts.count + 1 else {
            throw FulcrumError.shapeMismatch(argument: "collective", expected: "\(globalCounts.count + 1)", actual: "\(message.count)")
        }
        for e in globalCounts.indices { globalCounts[e] += message[e] }
        globalTokens += message[globalCounts.count]
        for e in pendingCounts.indices { pendingCounts[e] = 0 }
        pendingTokens = 0
    }

    /// This micro-batch's loss: α·E′·Σᵢ f̃ᵢ^global·pᵢ^local with coefficients α·E′·f̃ᵢ^global/T_local.
    ///
    /// - Throws: `emptyReduction` before any synchronized token or for an empty micro-batch.
    public func loss(for routing: GatingResult) throws -> BalanceLoss {
        try loss.check(routing)
        guard globalTokens > 0 else {
            throw FulcrumError.emptyReduction(argument: "globalCounts", reason: "no synchronized micro-batch: record and synchronize first")
        }
        let f = loss.loads(counts: globalCounts, tokens: globalTokens)
        return try loss.term(loads: f, scoreSums: routing.totalScoreSums, scoreTokens: routing.tokenCount,
                             sequences: routing.expertCounts.rows)
    }

    /// Streaming mode: `record`, `synchronize` and `loss(for:)` in one call.
    public func streamingLoss(for routing: GatingResult) throws -> BalanceLoss {
        try record(routing)
        try synchronize()
        return try loss(for: routing)
    }
}
