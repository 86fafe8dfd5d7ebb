import FulcrumKernels

/// How many real experts the tokens used when routing with null experts ("AdaMoE: Token-Adaptive
/// Routing with Null Experts for Mixture-of-Experts Language Models"): null experts output zero
/// and cost nothing, so a token that picks r real experts among its k costs r expert FLOPs.
public struct NullExpertStatistics: Sendable, Equatable {
    /// Tokens summarised.
    public let tokenCount: Int
    /// Mean real experts per token, (1/N)·Σₜ rₜ.
    public let meanRealExperts: Double
    /// `histogram[r]`: tokens that chose exactly r real experts, r in 0...k.
    public let histogram: [Int]
    /// Expert FLOPs saved relative to fixed top-k₀ routing over real experts only:
    /// 1 − mean/k₀ (negative when tokens use more than k₀ real experts on average).
    public let flopsSavedFraction: Double

    /// Summarises the per-token real-expert counts of a gating pass (`realExpertCounts`).
    ///
    /// - Parameters:
    ///   - realExpertCounts: N counts, each in 0...topK.
    ///   - topK: k of the router.
    ///   - baselineTopK: k₀ of the fixed top-k router compared against (default k).
    /// - Throws: `emptyReduction` for N = 0, `indexOutOfRange` for a count outside 0...k,
    ///   `invalidParameter` for k outside 1 ... `Int32.max` (the counts' range: the histogram has
    ///   k + 1 entries) or k₀ below 1.
    public init(realExpertCounts: [Int32], topK: Int, baselineTopK: Int? = nil) throws {
        let baseline = baselineTopK ?? topK
        guard topK >= 1, topK <= Int(Int32.max) else {
            throw FulcrumError.invalidParameter(argument: "topK", value: "\(topK)", requirement: "in 1...\(Int32.max) (the counts are Int32)")
        }
        guard baseline >= 1 else { throw FulcrumError.invalidParameter(argument: "baselineTopK", value: "\(baseline)", requirement: ">= 1") }
        guard !realExpertCounts.isEmpty else {
            throw FulcrumError.emptyReduction(argument: "realExpertCounts", reason: "no tokens")
        }
        var histogram = [Int](repeating: 0, count: topK + 1)
        var total = 0
        for (t, r) in realExpertCounts.enumerated() {
            guard r >= 0, Int(r) <= topK else {
                throw FulcrumError.indexOutOfRange(argument: "realExpertCounts", position: t, value: Int(r), validRange: "0...\(topK)")
            }
            histogram[Int(r)] += 1
            total += Int(r)
        }
        tokenCount = realExpertCounts.count
        meanRealExperts = Double(total) / Double(tokenCount)
        self.histogram = histogram
        flopsSavedFraction = 1 - meanRealExperts / Double(baseline)
    }
}
