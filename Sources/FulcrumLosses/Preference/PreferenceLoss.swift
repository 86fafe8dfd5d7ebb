import FulcrumKernels

/// Pairwise preference losses on sequence log-probabilities, with their gradients with respect to
/// the policy log-probabilities. For pair i with policy log-probabilities π_w = log π(y_w|x),
/// π_l = log π(y_l|x) of the chosen and rejected responses, reference ones r_w, r_l, lengths
/// |y_w|, |y_l| and σ the logistic function:
///
/// | kind | loss ℓ_i | paper |
/// |---|---|---|
/// | `.dpo` | −log σ(β·[(π_w − r_w) − (π_l − r_l)]) | "Direct Preference Optimization: Your Language Model is Secretly a Reward Model", eq. 7 |
/// | `.ipo` | ([(π_w − r_w) − (π_l − r_l)] − 1/(2β))² | "A General Theoretical Paradigm to Understand Learning from Human Preferences", eq. 17 (τ = β) |
/// | `.simpo(gamma:)` | −log σ(β·π_w/|y_w| − β·π_l/|y_l| − γ) | "SimPO: Simple Preference Optimization with a Reference-Free Reward", eq. 6 |
/// | `.rpo(eta:)` | DPO + η·β·(−π_w) | "Provably Mitigating Overoptimization in RLHF: Your SFT Loss is Implicitly an Adversarial Regularizer", Algorithm 2 (RPO): DPO plus the SFT negative log-likelihood of the chosen response weighted by η·β |
///
/// The batch loss is the mean over pairs. −log σ(h) is computed as softplus(−h) =
/// max(−h, 0) + log1p(e^{−|h|}) (exact for large |h|); at h = 0 it is log 2. The gradients:
/// DPO ∂ℓ/∂π_w = −β·σ(−h) = −∂ℓ/∂π_l; IPO ∂ℓ/∂π_w = 2·(h − 1/(2β)) = −∂ℓ/∂π_l; SimPO
/// ∂ℓ/∂π_w = −β·σ(−h)/|y_w|, ∂ℓ/∂π_l = β·σ(−h)/|y_l|; RPO adds −η·β to ∂ℓ/∂π_w (all divided
/// by the pair count). O(pairs).
///
/// RPO's weight η·β is the paper's: its adversarial reward penalty η·r(x, y_w) becomes an SFT
/// term through DPO's reward r = β·log(π/π_ref) + β·log Z(x), so the negative log-likelihood is
/// weighted by η times the DPO β (the authors' implementation subtracts η·β·π_w from the DPO
/// loss); the NLL is the summed, not length-averaged, log-probability.
public struct PreferenceLoss: Sendable, Equatable {
    /// The loss family.
    public enum Kind: Sendable, Equatable {
        /// Direct Preference Optimization.
        case dpo
        /// Identity Preference Optimization.
        case ipo
        /// γ ≥ 0: the target reward margin.
        case simpo(gamma: Double)
        /// η ≥ 0: the chosen responses' negative log-likelihood is weighted by η·β.
        case rpo(eta: Double)
    }

    /// Which loss.
    public var kind: Kind
    /// β > 0 (DPO's and SimPO's inverse temperature, IPO's τ).
    public var beta: Double

    /// A preference loss; validated when called.
    public init(_ kind: Kind, beta: Double) {
        self.kind = kind
        self.beta = beta
    }

    /// Whether the loss uses reference log-probabilities (all but SimPO).
    public var usesReference: Bool {
        if case .simpo = kind { return false }
        return true
    }

    /// Whether the loss uses response lengths (SimPO).
    public var usesLengths: Bool { !usesReference }

    /// The mean loss over pairs, and ∂loss/∂π_w, ∂loss/∂π_l per pair into the two gradient buffers.
    ///
    /// - Parameters:
    ///   - policyChosen, policyRejected: P policy log-probabilities each.
    ///   - referenceChosen, referenceRejected: P reference log-probabilities each (required
    ///     unless SimPO, ignored by SimPO).
    ///   - chosenLengths, rejectedLengths: P token counts ≥ 1 each (required by SimPO only).
    ///   - chosenGradient, rejectedGradient: P outputs each.
    /// - Throws: `FulcrumError` naming `beta` (finite, > 0), `gamma`/`eta` (finite, ≥ 0), a
    ///   buffer of the wrong length or missing, a zero length, a non-finite log-probability,
    ///   `policyChosen` for no pairs, or the hyper-parameters when they scale the loss or its
    ///   gradient past T.
    @specialized(where T == Float)
    @specialized(where T == Double)
    public func lossAndGradient<T: FulcrumFloat>(
        policyChosen: UnsafeBufferPointer<T>, policyRejected: UnsafeBufferPointer<T>,
        referenceChosen: UnsafeBufferPointer<T>? = nil, referenceRejected: UnsafeBufferPointer<T>? = nil,
        chosenLengths: UnsafeBufferPointer<Int32>? = nil, rejectedLengths: UnsafeBufferPointer<Int32>? = nil,
        chosenGradient: UnsafeMutableBufferPointer<T>, rejectedGradient: UnsafeMutableBufferPointer<T>
    ) throws -> T {
        try validateParameters()
        let pairs = policyChosen.count
        guard pairs > 0 else { throw FulcrumError.emptyReduction(argument: "policyChosen", reason: "a mean over no pairs") }
        try checkCount(policyRejected.count, pairs, argument: "policyRejected")
        try checkCount(chosenGradient.count, pairs, argument: "chosenGradient")
        try checkCount(rejectedGradient.count, pairs, argument: "rejectedGradient")
        var inputs: [(String, UnsafeBufferPointer<T>)] = [("policyChosen", policyChosen), ("policyRejected", policyRejected)]
        if usesReference {
            for (name, buffer) in [("referenceChosen", referenceChosen), ("referenceRejected", referenceRejected)] {
                guard let buffer else {
                    throw FulcrumError.invalidParameter(argument: name, value: "nil", requirement: "given for \(kind)")
                }
                try checkCount(buffer.count, pairs, argument: name)
                inputs.append((name, buffer))
            }
        } else {
            for (name, buffer) in [("chosenLengths", chosenLengths), ("rejectedLengths", rejectedLengths)] {
                guard let buffer else {
                    throw FulcrumError.invalidParameter(argument: name, value: "nil", requirement: "given for SimPO")
                }
                try checkCount(buffer.count, pairs, argument: name)
                if let i = buffer.firstIndex(where: { $0 < 1 }) {
                    throw FulcrumError.invalidParameter(argument: "\(name)[\(i)]", value: "\(buffer[i])", requirement: ">= 1")
                }
            }
        }
        for (name, buffer) in inputs {
            if let i = buffer.firstIndex(where: { !$0.isFinite }) {
                throw FulcrumError.nonFiniteValue(argument: name, row: i, column: 0)
            }
        }
        let scale = 1 / Double(pairs)
        var total = 0.0, finite = true
        for i in 0..<pairs {
            let (pw, pl) = (Double(policyChosen[i]), Double(policyRejected[i]))
            let (rw, rl) = usesReference ? (Double(referenceChosen![i]), Double(referenceRejected![i])) : (0, 0)
            let (loss, gw, gl) = pair(pw, pl, rw, rl, chosenLength: Double(chosenLengths?[i] ?? 1),
                                      rejectedLength: Double(rejectedLengths?[i] ?? 1))
            total += loss
            chosenGradient[i] = T(gw * scale)
            rejectedGradient[i] = T(gl * scale)
            finite = finite && chosenGradient[i].isFinite && rejectedGradient[i].isFinite
        }
        // Finite inputs, so only the hyper-parameters can take it past T (IPO: a β so small that 1/(2β) does).
        return try representableLoss(total * scale, as: T.self, parameters: scaleParameters, gradientIsFinite: finite)
    }

    /// The hyper-parameters the loss's size grows with, named when it overflows.
    var scaleParameters: String {
        switch kind {
        case .dpo, .ipo: "beta"
        case .simpo: "beta, gamma"
        case .rpo: "beta, eta"
        }
    }

    /// One pair: (ℓ, ∂ℓ/∂π_w, ∂ℓ/∂π_l).
    func pair(_ pw: Double, _ pl: Double, _ rw: Double, _ rl: Double, chosenLength: Double, rejectedLength: Double) -> (Double, Double, Double) {
        let margin = (pw - rw) - (pl - rl)
        switch kind {
        case .dpo, .rpo:
            let h = beta * margin
            let (loss, weight) = (softplus(-h), logistic(-h))
            if case .rpo(let eta) = kind {
                return (loss - eta * beta * pw, -beta * (weight + eta), beta * weight)
            }
            return (loss, -beta * weight, beta * weight)
        case .ipo:
            let gap = margin - 1 / (2 * beta)
            return (gap * gap, 2 * gap, -2 * gap)
        case .simpo(let gamma):
            let h = beta * (pw / chosenLength - pl / rejectedLength) - gamma
            let weight = logistic(-h)
            return (softplus(-h), -beta * weight / chosenLength, beta * weight / rejectedLength)
        }
    }

    func validateParameters() throws {
        guard beta.isFinite, beta > 0 else {
            throw FulcrumError.invalidParameter(argument: "beta", value: "\(beta)", requirement: "finite and > 0")
        }
        switch kind {
        case .simpo(let gamma) where !(gamma.isFinite && gamma >= 0):
            throw FulcrumError.invalidParameter(argument: "gamma", value: "\(gamma)", requirement: "finite and >= 0")
        case .rpo(let eta) where !(eta.isFinite && eta >= 0):
            throw FulcrumError.invalidParameter(argument: "eta", value: "\(eta)", requirement: "finite and >= 0")
        default: break
        }
    }
}

/// log(1 + e^x), exact in both tails.
@inline(__always)
func softplus(_ x: Double) -> Double { max(x, 0) + Double.log1p(Double.exp(-abs(x))) }

/// 1/(1 + e^{−x}), without overflow.
@inline(__always)
func logistic(_ x: Double) -> Double {
    x >= 0 ? 1 / (1 + Double.exp(-x)) : Double.exp(x) / (1 + Double.exp(x))
}
