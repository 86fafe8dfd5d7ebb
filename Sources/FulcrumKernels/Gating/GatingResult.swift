/// The owned outputs of one gating forward pass: a convenience over `Gating.forward(…into:)`
/// for callers that do not manage their own buffers.
public struct GatingResult: Sendable {
    /// The options the tokens were routed with.
    public let configuration: GatingConfiguration
    /// The S + 1 sequence offsets the statistics refer to (`[0, N]` for one sequence).
    public let sequenceOffsets: [Int]
    /// N×k experts, best first; `~e` marks an assignment dropped by capacity.
    public var indices: Matrix<Int32>
    /// N×k weights, 0 where dropped.
    public var weights: Matrix<Float>
    /// N row log-sum-exps of the logits.
    public var logSumExp: [Float]
    /// N counts of real experts chosen per token.
    public var realExpertCounts: [Int32]
    /// S×E′ assignments per sequence and expert (before capacity drops).
    public var expertCounts: Matrix<Int64>
    /// S×E′ sums of the load-balancing scores per sequence and expert.
    public var scoreSums: Matrix<Double>
    /// Capacity and drops of the call.
    public var summary: GatingSummary

    /// Routes `logits` (N×E′); see `Gating.forward` for the computation and the errors.
    public init(
        routing logits: MatrixView<Float>, configuration: GatingConfiguration,
        expertBias: [Float]? = nil, sequenceOffsets: [Int]? = nil
    ) throws {
        try configuration.validate()
        let (n, k, experts) = (logits.rows, configuration.topK, configuration.totalExpertCount)
        let offsets = try validatedSequenceOffsets(sequenceOffsets, tokenCount: n)
        self.configuration = configuration
        self.sequenceOffsets = offsets
        indices = try Matrix(rows: n, columns: k, repeating: 0)
        weights = try Matrix(rows: n, columns: k, repeating: 0)
        logSumExp = [Float](repeating: 0, count: n)
        realExpertCounts = [Int32](repeating: 0, count: n)
        expertCounts = try Matrix(rows: offsets.count - 1, columns: experts, repeating: 0)
        scoreSums = try Matrix(rows: offsets.count - 1, columns: experts, repeating: 0)
        summary = GatingSummary(capacity: nil, droppedAssignments: 0)
        let passedOffsets = sequenceOffsets
        summary = try indices.withMutableView { indices in
            try weights.withMutableView { weights in
                try expertCounts.withMutableView { counts in
                    try scoreSums.withMutableView { sums in
                        try logSumExp.withUnsafeMutableBufferPointer { lse in
                            try realExpertCounts.withUnsafeMutableBufferPointer { real in
                                let outputs = GatingOutputs(
                                    indices: indices, weights: weights, logSumExp: lse, realExpertCounts: real,
                                    expertCounts: counts, scoreSums: sums)
                                if let expertBias {
                                    return try expertBias.withUnsafeBufferPointer {
                                        try Gating.forward(logits: logits, configuration: configuration, expertBias: $0,
                                                           sequenceOffsets: passedOffsets, into: outputs)
                                    }
                                }
                                return try Gating.forward(logits: logits, configuration: configuration,
                                                          sequenceOffsets: passedOffsets, into: outputs)
                            }
                        }
                    }
                }
            }
        }
    }

    /// Token count N.
    public var tokenCount: Int { logSumExp.count }

    /// Assignments per expert summed over the sequences (E′ values).
    public var totalExpertCounts: [Int64] {
        (0..<expertCounts.columns).map { e in (0..<expertCounts.rows).reduce(0) { $0 + expertCounts[$1, e] } }
    }

    /// Load-balancing score sums per expert summed over the sequences in order (E′ values).
    public var totalScoreSums: [Double] {
        (0..<scoreSums.columns).map { e in (0..<scoreSums.rows).reduce(0) { $0 + scoreSums[$1, e] } }
    }
}
