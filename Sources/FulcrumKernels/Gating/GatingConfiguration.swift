/// How router logits become expert scores.
public enum GatingScoreFunction: Sendable, Equatable {
    /// sᵢ = softmax(x)ᵢ over all E′ experts (Switch Transformer, Mixtral, Qwen-MoE).
    case softmax
    /// σᵢ = 1/(1 + e^{−xᵢ}) per expert (DeepSeek-V3); the load-balancing score is σᵢ/Σⱼσⱼ.
    case sigmoid
}

/// Which assignments a full expert keeps when capacity is limited (Megatron-LM's
/// `moe_token_drop_policy`: `probs` or `position`).
public enum CapacityDropPolicy: Sendable, Equatable {
    /// Keep the `capacity` assignments with the largest routing weight; ties go to the lower
    /// token index.
    case probability
    /// Keep the first `capacity` assignments in token order.
    case position
}

/// The options of a top-k router, with the names and meanings of Megatron-LM's router
/// (`topk`, `score_function`, `use_pre_softmax`, `num_groups`, `group_topk`, `scaling_factor`,
/// `capacity_factor`, `drop_policy`) and the null experts of "AdaMoE: Token-Adaptive Routing with
/// Null Experts for Mixture-of-Experts Language Models".
///
/// The logits have E′ = `expertCount + nullExpertCount` columns: the real experts first
/// (columns `0..<expertCount`), then the null experts, whose output is zero and which cost no FLOPs.
///
/// Weights of the k selected experts e₁…e_k of a token, before `scalingFactor` λ:
/// - softmax, `preSoftmax == true`: w_a = p_{e_a}, or p_{e_a}/Σ_b p_{e_b} with `normalizeTopK`;
/// - softmax, `preSoftmax == false` (top-k, then softmax over the selected logits):
///   w_a = e^{x_{e_a}}/Σ_b e^{x_{e_b}} (already normalised);
/// - sigmoid: w_a = σ_{e_a}, or σ_{e_a}/Σ_b σ_{e_b} with `normalizeTopK`.
public struct GatingConfiguration: Sendable, Equatable {
    /// E, the number of real experts (≥ 1).
    public var expertCount: Int
    /// M, the number of null experts appended after the real ones (≥ 0).
    public var nullExpertCount: Int
    /// k, experts chosen per token, in `1...expertCount + nullExpertCount`.
    public var topK: Int
    /// Softmax or sigmoid scores.
    public var scoreFunction: GatingScoreFunction
    /// Softmax only: `true` selects on the softmax probabilities and weights with them ("softmax
    /// then top-k"); `false` selects on the logits and takes the softmax over the k selected
    /// ("top-k then softmax"), as Megatron-LM's default.
    public var preSoftmax: Bool
    /// Divide the k weights of a token by their sum (Hugging Face's `norm_topk_prob`).
    /// Has no effect for softmax with `preSoftmax == false`, whose weights already sum to 1.
    public var normalizeTopK: Bool
    /// λ, multiplies every weight (Megatron-LM's `moe_router_topk_scaling_factor`); finite, > 0.
    public var scalingFactor: Float
    /// G, equal groups of consecutive experts for group-limited routing (1 = off). Must divide E′.
    public var groupCount: Int
    /// g, the groups a token may use, in `1...groupCount`. A group scores the sum of its best
    /// max(1, k/g) selection keys; the g best groups (ties: lower group index) stay, then the
    /// top k is taken inside them.
    public var groupTopK: Int
    /// cf > 0 limits every real expert to C = ⌈(N·k/E′)·cf⌉ assignments per call; `nil` = no limit.
    /// Null experts are never limited (they hold no tokens).
    public var capacityFactor: Double?
    /// Which assignments survive when an expert is over capacity.
    public var dropPolicy: CapacityDropPolicy

    /// A router with the given options; see the properties for their meaning.
    public init(
        expertCount: Int, topK: Int, nullExpertCount: Int = 0,
        scoreFunction: GatingScoreFunction = .softmax, preSoftmax: Bool = false,
        normalizeTopK: Bool = false, scalingFactor: Float = 1,
        groupCount: Int = 1, groupTopK: Int = 1,
        capacityFactor: Double? = nil, dropPolicy: CapacityDropPolicy = .probability
    ) {
        self.expertCount = expertCount
        self.nullExpertCount = nullExpertCount
        self.topK = topK
        self.scoreFunction = scoreFunction
        self.preSoftmax = preSoftmax
        self.normalizeTopK = normalizeTopK
        self.scalingFactor = scalingFactor
        self.groupCount = groupCount
        self.groupTopK = groupTopK
        self.capacityFactor = capacityFactor
        self.dropPolicy = dropPolicy
    }

    /// E′ = E + M, the number of logit columns.
    @inlinable public var totalExpertCount: Int { expertCount + nullExpertCount }

    /// C = min(N, ⌈(N·k/E′)·cf⌉) for `tokenCount` = N tokens, or `nil` without a capacity factor:
    /// an expert takes each token at most once, so a capacity above N never binds (and a huge cf
    /// cannot overflow). `nil` too for N < 0 or for options that `validate()` rejects (such as a cf
    /// of −∞ or NaN): C is undefined there (`Gating.forward` validates before it asks).
    public func capacity(tokenCount: Int) -> Int? {
        guard let cf = capacityFactor, tokenCount >= 0, (try? validate()) != nil else { return nil }
        return Int(min(Double(tokenCount), (Double(tokenCount) * Double(topK) / Double(totalExpertCount) * cf).rounded(.up)))
    }

    /// Throws `FulcrumError.invalidParameter` naming the first option that breaks its rule.
    public func validate() throws {
        guard expertCount >= 1 else {
            let why = nullExpertCount > 0 ? ">= 1 (null experts need at least one real expert)" : ">= 1"
            throw FulcrumError.invalidParameter(argument: "expertCount", value: "\(expertCount)", requirement: why)
        }
        guard nullExpertCount >= 0 else {
            throw FulcrumError.invalidParameter(argument: "nullExpertCount", value: "\(nullExpertCount)", requirement: ">= 0")
        }
        // Expert indices are written as Int32; E + M is formed only once it cannot overflow.
        guard expertCount <= Int(Int32.max) else {
            throw FulcrumError.invalidParameter(argument: "expertCount", value: "\(expertCount)", requirement: "<= \(Int32.max)")
        }
        guard nullExpertCount <= Int(Int32.max) - expertCount else {
            throw FulcrumError.invalidParameter(argument: "nullExpertCount", value: "\(nullExpertCount)", requirement: "E + M <= \(Int32.max)")
        }
        let total = totalExpertCount
        guard topK >= 1, topK <= total else {
            throw FulcrumError.invalidParameter(argument: "topK", value: "\(topK)", requirement: "in 1...\(total) (the expert count E')")
        }
        guard scalingFactor.isFinite, scalingFactor > 0 else {
            throw FulcrumError.invalidParameter(argument: "scalingFactor", value: "\(scalingFactor)", requirement: "finite and > 0")
        }
        guard groupCount >= 1, total % groupCount == 0 else {
            throw FulcrumError.invalidParameter(argument: "groupCount", value: "\(groupCount)", requirement: ">= 1 and dividing the expert count E' = \(total)")
        }
        guard groupTopK >= 1, groupTopK <= groupCount else {
            throw FulcrumError.invalidParameter(argument: "groupTopK", value: "\(groupTopK)", requirement: "in 1...\(groupCount) (the group count)")
        }
        guard topK <= groupTopK * (total / groupCount) else {
            throw FulcrumError.invalidParameter(
                argument: "topK", value: "\(topK)", requirement: "<= groupTopK · experts per group = \(groupTopK * (total / groupCount))")
        }
        if let cf = capacityFactor, !(cf.isFinite && cf > 0) {
            throw FulcrumError.invalidParameter(argument: "capacityFactor", value: "\(cf)", requirement: "finite and > 0")
        }
    }

    /// Experts per group, E′/G.
    var groupSize: Int { totalExpertCount / groupCount }
    /// Keys summed into a group's score: max(1, k/g), at most the group size.
    var keysPerGroup: Int { min(groupSize, max(1, topK / groupTopK)) }
    /// `true` when the weights are a softmax over the selected logits.
    var weightsAreSelectedSoftmax: Bool {
        scoreFunction == .softmax && (!preSoftmax || normalizeTopK)
    }
}
