import FulcrumKernels

/// Auxiliary-loss-free balancing ("Auxiliary-Loss-Free Load Balancing Strategy for
/// Mixture-of-Experts", used by DeepSeek-V3): after each step, bᵢ += u·sign(c̄ − cᵢ), where cᵢ
/// is expert i's assignment count over the global batch and c̄ the mean count. The bias enters
/// the selection keys of `Gating.forward` only, never the weights.
public enum ExpertBiasUpdate {
    /// Updates `bias` (E′ values) in place from global `counts` (E′ values) with rate u.
    ///
    /// With `nullExpertCount` M > 0 the last M counts are replaced by their mean first, so the
    /// null experts share one target as in the AdaMoE loss. sign(0) = 0: a balanced expert keeps
    /// its bias.
    /// - Throws: `shapeMismatch` for mismatched lengths, `invalidParameter` for a non-finite or
    ///   negative rate or M outside 0..<E′.
    public static func apply(to bias: inout [Float], counts: [Int64], rate: Float, nullExpertCount: Int = 0) throws {
        try checkLengths(bias.count, counts.count)
        guard rate.isFinite, rate >= 0 else {
            throw FulcrumError.invalidParameter(argument: "rate", value: "\(rate)", requirement: "finite and >= 0")
        }
        guard nullExpertCount >= 0, nullExpertCount < max(1, counts.count) else {
            throw FulcrumError.invalidParameter(argument: "nullExpertCount", value: "\(nullExpertCount)", requirement: "in 0..<\(counts.count)")
        }
        var loads = counts.map(Double.init)
        let real = counts.count - nullExpertCount
        if nullExpertCount > 0 {
            let shared = loads[real...].reduce(0, +) / Double(nullExpertCount)
            for j in real..<counts.count { loads[j] = shared }
        }
        let mean = loads.reduce(0, +) / Double(max(1, loads.count))
        for i in bias.indices {
            let step: Float = loads[i] < mean ? 1 : (loads[i] > mean ? -1 : 0)
            bias[i] += rate * step
        }
    }

    private static func checkLengths(_ biasCount: Int, _ countsCount: Int) throws {
        guard biasCount == countsCount else {
            throw FulcrumError.shapeMismatch(argument: "counts", expected: "\(biasCount)", actual: "\(countsCount)")
        }
    }
}
