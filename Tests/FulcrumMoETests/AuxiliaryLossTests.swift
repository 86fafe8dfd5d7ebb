import Testing
import FulcrumKernels
@testable import FulcrumMoE

@Suite("Router z-loss, expert-bias update and null-expert statistics")
struct AuxiliaryLossTests {
    @Test func zLoss() throws {
        // lse = [1, −2, 3]: β·(1 + 4 + 9)/3 with β = 0.3 → 1.4; γ = β/N = 0.1.
        let (value, gamma) = try RouterZLoss.evaluate(logSumExp: [1, -2, 3], coefficient: 0.3)
        #expect(abs(value - 1.4) < 1e-12)
        #expect(gamma == Float(0.1))
        #expect(throws: FulcrumError.emptyReduction(argument: "logSumExp", reason: "no tokens")) {
            try RouterZLoss.evaluate(logSumExp: [], coefficient: 1)
        }
        #expect(throws: FulcrumError.nonFiniteValue(argument: "logSumExp", row: 1, column: 0)) {
            try RouterZLoss.evaluate(logSumExp: [0, .nan], coefficient: 1)
        }
    }

    @Test func biasUpdate() throws {
        // counts [10, 2, 6, 6]: mean 6 → signs [−, +, 0, 0].
        var bias: [Float] = [0, 0, 0.5, 0]
        try ExpertBiasUpdate.apply(to: &bias, counts: [10, 2, 6, 6], rate: 0.25)
        #expect(bias == [-0.25, 0.25, 0.5, 0])
        // Null experts 2 and 3 share their mean load (1 + 5)/2 = 3; mean over all = (8+4+3+3)/4 = 4.5.
        var withNulls: [Float] = [0, 0, 0, 0]
        try ExpertBiasUpdate.apply(to: &withNulls, counts: [8, 4, 1, 5], rate: 1, nullExpertCount: 2)
        #expect(withNulls == [-1, 1, 1, 1])
        #expect(throws: FulcrumError.shapeMismatch(argument: "counts", expected: "4", actual: "3")) {
            try ExpertBiasUpdate.apply(to: &bias, counts: [1, 2, 3], rate: 1)
        }
        #expect(throws: FulcrumError.self) { try ExpertBiasUpdate.apply(to: &bias, counts: [1, 2, 3, 4], rate: .nan) }
    }

    @Test func nullExpertStatistics() throws {
        // k = 4 with nulls, real counts [4, 2, 1, 1, 2]: mean 2, histogram [0, 2, 2, 0, 1];
        // against fixed top-2 over real experts: 1 − 2/2 = 0 saved; against top-4: 1 − 2/4 = ½.
        let stats = try NullExpertStatistics(realExpertCounts: [4, 2, 1, 1, 2], topK: 4, baselineTopK: 2)
        #expect(stats.meanRealExperts == 2)
        #expect(stats.histogram == [0, 2, 2, 0, 1])
        #expect(stats.flopsSavedFraction == 0)
        #expect(try NullExpertStatistics(realExpertCounts: [4, 2, 1, 1, 2], topK: 4).flopsSavedFraction == 0.5)
        #expect(throws: FulcrumError.indexOutOfRange(argument: "realExpertCounts", position: 1, value: 5, validRange: "0...4")) {
            try NullExpertStatistics(realExpertCounts: [1, 5], topK: 4)
        }
    }

    /// k + 1 histogram slots: k = Int.max overflowed, a huge k allocated before the counts were read.
    @Test func nullExpertStatisticsBoundTopK() {
        for topK in [0, Int(Int32.max) + 1, .max] {
            #expect(throws: FulcrumError.invalidParameter(argument: "topK", value: "\(topK)", requirement: "in 1...\(Int32.max) (the counts are Int32)")) {
                try NullExpertStatistics(realExpertCounts: [1, 2], topK: topK)
            }
        }
    }

    @Test func statisticsFromARoutingWithNullExperts() throws {
        // Token 0 prefers two real experts, token 1 two null experts (E = 2, M = 2, k = 2).
        let logits: [Float] = [5, 4, 0, 0, 0, 0, 5, 4]
        let routing = try route(logits, GatingConfiguration(expertCount: 2, topK: 2, nullExpertCount: 2))
        #expect(routing.realExpertCounts == [2, 0])
        let stats = try NullExpertStatistics(realExpertCounts: routing.realExpertCounts, topK: 2)
        #expect(stats.flopsSavedFraction == 0.5)
    }
}
