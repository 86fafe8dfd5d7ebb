import FulcrumKernels

/// The auxiliary load-balancing loss of a top-k router, LBL = α·E′·Σᵢ f̃ᵢ·pᵢ, at micro-batch or
/// sequence scope (global-batch scope: `GlobalBatchBalance`).
///
/// - fᵢ = countᵢ/(k·T): the fraction of the k·T assignments of T tokens routed to expert i
///   (counted before any capacity drop), so that perfect balance (fᵢ = pᵢ = 1/E′) gives LBL = α;
/// - pᵢ = (1/T)·Σₜ sₜᵢ: the mean load-balancing score (softmax probability, or σ/Σσ for sigmoid);
/// - null experts (AdaMoE): the M null experts share one load, f̃ⱼ = (1/M)·Σ_{null n} fₙ for every
///   null j, and real experts keep f̃ᵢ = fᵢ. The router is pushed towards the *average* null usage
///   only, so each token may pick more or fewer null experts ("AdaMoE: Token-Adaptive Routing with
///   Null Experts for Mixture-of-Experts Language Models": its modified load-balancing loss treats
///   the null experts as one averaged bucket).
///
/// f is a count, hence constant for the gradient; ∂LBL/∂sₜᵢ = α·E′·f̃ᵢ/T, which `BalanceLoss`
/// hands to `Gating.backward`.
///
/// Scopes ("Demons in the Detail: On Implementing Load Balancing Loss for Training Specialized
/// Mixture-of-Expert Models"): the micro-batch scope balances every micro-batch,
/// which with few sequences per micro-batch is nearly the per-sequence scope that the paper shows
/// suppresses expert specialisation; `perSequence` is that strict variant; the paper's
/// remedy is the global-batch scope.
public struct LoadBalancingLoss: Sendable {
    /// The router whose statistics the loss reads (E′, M and k).
    public let configuration: GatingConfiguration
    /// α, the loss weight.
    public let coefficient: Double

    /// - Throws: `invalidParameter` for a bad configuration or α not finite and ≥ 0.
    public init(configuration: GatingConfiguration, coefficient: Double = 1) throws {
        try configuration.validate()
        guard coefficient.isFinite, coefficient >= 0 else {
            throw FulcrumError.invalidParameter(argument: "coefficient", value: "\(coefficient)", requirement: "finite and >= 0")
        }
        self.configuration = configuration
        self.coefficient = coefficient
    }

    /// LBL with f and p from one micro-batch (all its sequences together).
    ///
    /// - Throws: `shapeMismatch(argument: "routing", …)` when the routing used another router
    ///   shape or its statistics were reassigned to other shapes; `emptyReduction` for a batch
    ///   without tokens.
    public func microBatch(_ routing: GatingResult) throws -> BalanceLoss {
        try check(routing)
        return try microBatch(counts: routing.totalExpertCounts, scoreSums: routing.totalScoreSums,
                              tokenCount: routing.tokenCount, sequences: routing.expertCounts.rows)
    }

    /// LBL from raw statistics of one micro-batch, for callers that route into their own
    /// buffers with `Gating.forward(…into:)`: E′ `counts` and `scoreSums` summed over the
    /// micro-batch's `tokenCount` tokens; `sequences` rows of coefficients are returned.
    ///
    /// - Throws: `shapeMismatch` for arrays that are not E′ long; `indexOutOfRange` naming
    ///   `counts` for a count outside 0 ... `tokenCount` (an expert takes a token at most once);
    ///   `nonFiniteValue` or `invalidParameter` naming `scoreSums` for a NaN, ±∞ or negative sum;
    ///   `invalidParameter` naming `sequences` outside 1 ... `tokenCount` (a sequence holds at least
    ///   one token); `emptyReduction` for no tokens.
    public func microBatch(counts: [Int64], scoreSums: [Double], tokenCount: Int, sequences: Int = 1) throws -> BalanceLoss {
        let experts = configuration.totalExpertCount
        guard counts.count == experts else { throw FulcrumError.shapeMismatch(argument: "counts", expected: "\(experts)", actual: "\(counts.count)") }
        guard scoreSums.count == experts else {
            throw FulcrumError.shapeMismatch(argument: "scoreSums", expected: "\(experts)", actual: "\(scoreSums.count)")
        }
        if let i = counts.firstIndex(where: { $0 < 0 || $0 > max(0, tokenCount) }) {
            throw FulcrumError.indexOutOfRange(argument: "counts", position: i, value: Int(counts[i]), validRange: "0...\(max(0, tokenCount))")
        }
        if let i = scoreSums.firstIndex(where: { !$0.isFinite }) {
            throw FulcrumError.nonFiniteValue(argument: "scoreSums", row: i, column: 0)
        }
        if let i = scoreSums.firstIndex(where: { $0 < 0 }) {
            throw FulcrumError.invalidParameter(argument: "scoreSums[\(i)]", value: "\(scoreSums[i])", requirement: ">= 0")
        }
        guard sequences >= 1, sequences <= max(1, tokenCount) else {
            throw FulcrumError.invalidParameter(argument: "sequences", value: "\(sequences)",
                                                requirement: "in 1...\(max(1, tokenCount)) (sequences of at least one token)")
        }
        let f = loads(counts: counts, tokens: Int64(tokenCount))
        return try term(loads: f, scoreSums: scoreSums, scoreTokens: tokenCount, sequences: sequences)
    }

    /// The mean over the routing's sequences of each sequence's own LBL (the strict variant).
    ///
    /// Sequence s with Tₛ tokens contributes (α/S)·E′·Σᵢ f̃ˢᵢ·pˢᵢ, so its coefficients are
    /// α·E′·f̃ˢᵢ/(S·Tₛ). Route with `sequenceOffsets` to get per-sequence statistics.
    ///
    /// - Throws: the errors of `microBatch(_:)`.
    public func perSequence(_ routing: GatingResult) throws -> BalanceLoss {
        try check(routing)
        try checkTokens(routing.tokenCount)
        let (sequences, experts) = (routing.expertCounts.rows, configuration.totalExpertCount)
        var value = 0.0
        var coefficients = try Matrix<Double>(rows: sequences, columns: experts, repeating: 0)
        var allLoads = try Matrix<Double>(rows: sequences, columns: experts, repeating: 0)
        for s in 0..<sequences {
            let tokens = routing.sequenceOffsets[s + 1] - routing.sequenceOffsets[s]
            let f = loads(counts: (0..<experts).map { routing.expertCounts[s, $0] }, tokens: Int64(tokens))
            let sums = (0..<experts).map { routing.scoreSums[s, $0] }
            let (v, c) = evaluate(loads: f, scoreSums: sums, scoreTokens: tokens, scale: 1 / Double(sequences))
            value += v
            for e in 0..<experts {
                coefficients[s, e] = c[e]
                allLoads[s, e] = f[e]
            }
        }
        return BalanceLoss(value: value, coefficients: coefficients, loads: allLoads)
    }

    /// f̃ from counts of `tokens` tokens: countᵢ/(k·T), null experts averaged.
    func loads(counts: [Int64], tokens: Int64) -> [Double] {
        let scale = 1 / (Double(configuration.topK) * Double(tokens))
        var f = counts.map { Double($0) * scale }
        let (real, nulls) = (configuration.expertCount, configuration.nullExpertCount)
        if nulls > 0 {
            let shared = f[real...].reduce(0, +) / Double(nulls)
            for j in real..<(real + nulls) { f[j] = shared }
        }
        return f
    }

    /// α·E′·Σᵢ f̃ᵢ·(scoreSumᵢ/T)·scale and its coefficients α·E′·f̃ᵢ·scale/T.
    func evaluate(loads f: [Double], scoreSums: [Double], scoreTokens: Int, scale: Double = 1) -> (Double, [Double]) {
        let factor = coefficient * Double(configuration.totalExpertCount) * scale / Double(scoreTokens)
        var value = 0.0
        for i in f.indices { value += f[i] * scoreSums[i] }
        return (value * factor, f.map { $0 * factor })
    }

    /// A `BalanceLoss` whose coefficient row repeats for every sequence of the routing.
    func term(loads f: [Double], scoreSums: [Double], scoreTokens: Int, sequences: Int) throws -> BalanceLoss {
        try checkTokens(scoreTokens)
        let (value, c) = evaluate(loads: f, scoreSums: scoreSums, scoreTokens: scoreTokens)
        let experts = configuration.totalExpertCount
        let coefficients = try Matrix(rows: sequences, columns: experts, elements: Array((0..<sequences).map { _ in c }.joined()))
        let loads = try Matrix(rows: sequences, columns: experts, elements: Array((0..<sequences).map { _ in f }.joined()))
        return BalanceLoss(value: value, coefficients: coefficients, loads: loads)
    }

    /// Throws `emptyReduction` naming `routing` for a batch without tokens (its f and p are 0/0).
    func checkTokens(_ tokens: Int) throws {
        guard tokens > 0 else {
            throw FulcrumError.emptyReduction(argument: "routing", reason: "the micro-batch has no tokens")
        }
    }

    /// Throws unless `routing` was produced with this loss's router shape and its statistics
    /// (settable fields) still have the shapes of its N tokens in S sequences.
    func check(_ routing: GatingResult) throws {
        let mine = configuration, theirs = routing.configuration
        guard mine.expertCount == theirs.expertCount, mine.nullExpertCount == theirs.nullExpertCount, mine.topK == theirs.topK else {
            throw FulcrumError.shapeMismatch(
                argument: "routing", expected: "E=\(mine.expertCount) M=\(mine.nullExpertCount) k=\(mine.topK)",
                actual: "E=\(theirs.expertCount) M=\(theirs.nullExpertCount) k=\(theirs.topK)")
        }
        let (sequences, experts) = (routing.sequenceOffsets.count - 1, mine.totalExpertCount)
        for (name, rows, columns) in [("expertCounts", routing.expertCounts.rows, routing.expertCounts.columns),
                                      ("scoreSums", routing.scoreSums.rows, routing.scoreSums.columns)]
        where rows != sequences || columns != experts {
            throw FulcrumError.shapeMismatch(argument: "routing", expected: "\(name) \(sequences)x\(experts)", actual: "\(name) \(rows)x\(columns)")
        }
        let tokens = routing.sequenceOffsets[sequences]
        guard routing.tokenCount == tokens else {
            throw FulcrumError.shapeMismatch(argument: "routing", expected: "logSumExp \(tokens)", actual: "logSumExp \(routing.tokenCount)")
        }
    }
}
