import Testing
@testable import FulcrumKernels

@Suite("Gating capacity and group-limited routing on constructed inputs")
struct GatingCapacityTests {
    /// Six tokens that all prefer expert 0, with p₀ increasing in a = [1, 3, 2, 5, 4, 0.5].
    /// E′ = 4, k = 1, cf = 1: C = ⌈6·1/4·1⌉ = ⌈1.5⌉ = 2.
    static let preferZero = try! Matrix<Float>(rows: 6, columns: 4, elements: [1, 3, 2, 5, 4, 0.5].flatMap { [$0, 0, 0, 0] })

    @Test func dropByPositionKeepsTheFirstTokens() throws {
        let c = GatingConfiguration(expertCount: 4, topK: 1, preSoftmax: true, capacityFactor: 1, dropPolicy: .position)
        let result = try route(Self.preferZero, c)
        #expect(result.summary == GatingSummary(capacity: 2, droppedAssignments: 4))
        #expect(result.indices.storage == [0, 0, ~0, ~0, ~0, ~0])
        #expect(result.weights.storage.enumerated().allSatisfy { $0.offset < 2 ? $0.element > 0 : $0.element == 0 })
        // Counts are the router's demand, before drops.
        #expect(result.expertCounts.storage == [6, 0, 0, 0])
    }

    @Test func dropByProbabilityKeepsTheLargestWeights() throws {
        let c = GatingConfiguration(expertCount: 4, topK: 1, preSoftmax: true, capacityFactor: 1, dropPolicy: .probability)
        let result = try route(Self.preferZero, c)
        #expect(result.summary == GatingSummary(capacity: 2, droppedAssignments: 4))
        // Tokens 3 (a = 5) and 4 (a = 4) have the two largest p₀.
        #expect(result.indices.storage == [~0, ~0, ~0, 0, 0, ~0])
    }

    @Test func probabilityTiesGoToTheLowerToken() throws {
        // Tokens 0–2 tie on p₀; C = ⌈4·1/4·1⌉ = 1 keeps token 0 only.
        let logits = try Matrix<Float>(rows: 4, columns: 4, elements: [2, 2, 2, 1].flatMap { [$0, 0, 0, 0] })
        let c = GatingConfiguration(expertCount: 4, topK: 1, preSoftmax: true, capacityFactor: 1, dropPolicy: .probability)
        #expect(try route(logits, c).indices.storage == [0, ~0, ~0, ~0])
    }

    @Test func twoSlotsAndNullExpertsAreNeverDropped() throws {
        // E = 2 real + M = 2 null, k = 2, N = 4, cf = 0.5: C = ⌈4·2/4·0.5⌉ = 1.
        // Every token picks real expert 0 first and null expert 3 second.
        let logits = try Matrix<Float>(rows: 4, columns: 4, elements: [3, 4, 5, 6].flatMap { [$0, 0, 0, 1] })
        let c = GatingConfiguration(expertCount: 2, topK: 2, nullExpertCount: 2, capacityFactor: 0.5, dropPolicy: .probability)
        let result = try route(logits, c)
        // Weights of expert 0 grow with its logit, so token 3 keeps it.
        #expect(result.indices.storage == [~0, 3, ~0, 3, ~0, 3, 0, 3])
        #expect(result.summary.droppedAssignments == 3)
        #expect(result.realExpertCounts == [1, 1, 1, 1])
    }

    @Test func groupLimitedRoutingUsesTheSumOfTheGroupsBest() throws {
        // G = 4 groups {0,1} {2,3} {4,5} {6,7}, g = 2, k = 4: a group scores its best k/g = 2.
        // Group scores: 5 − 9 = −4, 4.8 + 4.7 = 9.5, 4.6 + 4.5 = 9.1, 0 + 0 = 0 → groups 1 and 2.
        // Without groups the top 4 would be [0, 2, 3, 4].
        let logits = try Matrix<Float>(rows: 1, columns: 8, elements: [5, -9, 4.8, 4.7, 4.6, 4.5, 0, 0])
        let grouped = GatingConfiguration(expertCount: 8, topK: 4, groupCount: 4, groupTopK: 2)
        #expect(try route(logits, grouped).indices.storage == [2, 3, 4, 5])
        #expect(try route(logits, GatingConfiguration(expertCount: 8, topK: 4)).indices.storage == [0, 2, 3, 4])
    }

    @Test func biasSelectsButNeverWeights() throws {
        // Bias +10 on expert 2 makes it selected; its weight is still from the logits alone:
        // top-k then softmax over {0: 1, 2: 0} gives e¹/(e¹ + e⁰) and e⁰/(e¹ + e⁰).
        let logits = try Matrix<Float>(rows: 1, columns: 3, elements: [1, 0.5, 0])
        let result = try route(logits, GatingConfiguration(expertCount: 3, topK: 2), bias: [0, 0, 10])
        #expect(result.indices.storage == [2, 0])
        let e = Float.exp(Float(1))
        #expect(abs(result.weights[0, 0] - 1 / (e + 1)) < 1e-7)
        #expect(abs(result.weights[0, 1] - e / (e + 1)) < 1e-7)
    }
}
