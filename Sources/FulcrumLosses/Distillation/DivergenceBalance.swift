import FulcrumKernels

/// How a distillation loss weighs the forward KL(p_t‖p_s) and the reverse KL(p_s‖p_t) of a row.
public enum DivergenceBalance: Sendable, Equatable {
    /// KL(p_t‖p_s), the usual distillation loss ("Distilling the Knowledge in a Neural Network").
    case forward
    /// KL(p_s‖p_t), mode-seeking.
    case reverse
    /// w_f·KL(p_t‖p_s) + w_r·KL(p_s‖p_t) with fixed weights (finite, ≥ 0).
    case weighted(forward: Double, reverse: Double)
    /// The sample-wise balance of "BD-KD: Balancing the Divergences for Online Knowledge
    /// Distillation" (its student loss, Section 3): each row compares the entropies of the
    /// softened student and teacher distributions; a row whose student is less confident than its
    /// teacher (H(p_s) > H(p_t)) weighs the reverse KL by δ (KL_f + δ·KL_r, sharpening the student),
    /// any other row weighs the forward KL by δ (δ·KL_f + KL_r, spreading it). δ ≥ 1 is the
    /// paper's amplification; δ = 1 is the plain sum of both KLs. The selection is piecewise
    /// constant, so the gradient treats the weights as constants.
    case entropyGap(amplification: Double)

    /// (w_f, w_r) for a row with these entropies.
    @inline(__always)
    func weights(teacherEntropy: Double, studentEntropy: Double) -> (Double, Double) {
        switch self {
        case .forward: return (1, 0)
        case .reverse: return (0, 1)
        case .weighted(let f, let r): return (f, r)
        case .entropyGap(let delta): return studentEntropy > teacherEntropy ? (1, delta) : (delta, 1)
        }
    }

    /// Whether `weights` can give the reverse KL a weight other than 0.
    var mayWeighReverse: Bool {
        switch self {
        case .forward: return false
        case .weighted(_, let r): return r != 0
        case .reverse, .entropyGap: return true
        }
    }

    /// Whether `weights` looks at the entropies.
    var needsEntropies: Bool {
        if case .entropyGap = self { return true }
        return false
    }

    /// Throws unless every weight is finite and ≥ 0 (and δ ≥ 1).
    func validate() throws {
        let ok: Bool
        switch self {
        case .forward, .reverse: ok = true
        case .weighted(let f, let r): ok = f.isFinite && r.isFinite && f >= 0 && r >= 0
        case .entropyGap(let delta): ok = delta.isFinite && delta >= 1
        }
        guard ok else {
            throw FulcrumError.invalidParameter(argument: "balance", value: "\(self)",
                                                requirement: "finite weights >= 0 (amplification >= 1)")
        }
    }
}
