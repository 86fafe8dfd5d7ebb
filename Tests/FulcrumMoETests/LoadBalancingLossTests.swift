import Testing
import FulcrumKernels
@testable import FulcrumMoE

@Suite("Load-balancing loss at micro-batch and sequence scope")
struct LoadBalancingLossTests {
    @Test(arguments: [0, 4])
    func microBatchMatchesTheDefinition(_ nulls: Int) throws {
        var random = MoERandom(seed: 11)
        let c = GatingConfiguration(expertCount: 12, topK: 3, nullExpertCount: nulls)
        let logits = random.domainLogits(700, experts: c.totalExpertCount, favourite: 2)
        let loss = try LoadBalancingLoss(configuration: c, coefficient: 0.01)
        let value = try loss.microBatch(try route(logits, c)).value
        let expected = referenceMicroBatchLoss(logits, experts: 12, nulls: nulls, k: 3, alpha: 0.01)
        #expect(close(value, expected, rel: 1e-6))
    }

    @Test func perfectBalanceGivesAlpha() throws {
        // Four tokens, E′ = 4, k = 1, each token a different expert with probability 1 (logit 60
        // against 0: p = 1/(1 + 3e⁻⁶⁰) = 1 in Float). f = p = ¼ each: LBL = α·4·4·(¼·¼) = α.
        var logits = [Float](repeating: 0, count: 16)
        for t in 0..<4 { logits[t * 4 + t] = 60 }
        let c = GatingConfiguration(expertCount: 4, topK: 1)
        let value = try LoadBalancingLoss(configuration: c, coefficient: 0.5).microBatch(try route(logits, c)).value
        #expect(abs(value - 0.5) < 1e-12)
    }

    @Test func nullExpertsShareOneLoad() throws {
        // E = 2, M = 2, k = 1, four tokens: experts 0, 0, null 2, null 2.
        // f = [2/4, 0, 2/4, 0] → null loads averaged: f̃ = [½, 0, ¼, ¼].
        var logits = [Float](repeating: 0, count: 16)
        for (t, e) in [0, 0, 2, 2].enumerated() { logits[t * 4 + e] = 60 }
        let c = GatingConfiguration(expertCount: 2, topK: 1, nullExpertCount: 2)
        let result = try LoadBalancingLoss(configuration: c).microBatch(try route(logits, c))
        #expect((0..<4).map { result.loads[0, $0] } == [0.5, 0, 0.25, 0.25])
        // p = [½, 0, ½, 0] (to 1e-25): LBL = 4·(½·½ + ¼·½) = 1.5.
        #expect(abs(result.value - 1.5) < 1e-12)
    }

    @Test func valueIsLinearInTheScoresThroughItsCoefficients() throws {
        // ∂LBL/∂sₜᵢ = cᵢ for every token, so LBL = Σᵢ cᵢ·Σₜ sₜᵢ.
        var random = MoERandom(seed: 2)
        let c = GatingConfiguration(expertCount: 10, topK: 2, nullExpertCount: 2)
        let routing = try route(random.domainLogits(300, experts: 12, favourite: 0), c)
        let loss = try LoadBalancingLoss(configuration: c, coefficient: 0.1).microBatch(routing)
        let linear = (0..<12).reduce(0.0) { $0 + Double(loss.coefficients[0, $1]) * routing.scoreSums[0, $1] }
        #expect(close(linear, loss.value, rel: 1e-6))
    }

    @Test func perSequenceIsTheMeanOfEachSequencesLoss() throws {
        var random = MoERandom(seed: 4)
        let c = GatingConfiguration(expertCount: 8, topK: 2)
        let lengths = [50, 130, 77]
        let sequences = lengths.enumerated().map { random.domainLogits($0.element, experts: 8, favourite: 3 * $0.offset) }
        let offsets = lengths.reduce(into: [0]) { $0.append($0.last! + $1) }
        let loss = try LoadBalancingLoss(configuration: c, coefficient: 1)
        let strict = try loss.perSequence(try route(sequences.flatMap { $0 }, c, offsets: offsets))
        let separate = try sequences.map { try loss.microBatch(try route($0, c)).value }
        #expect(close(strict.value, separate.reduce(0, +) / 3, rel: 1e-12))
        // The strict variant penalises these one-domain sequences more than the micro-batch does.
        let micro = try loss.microBatch(try route(sequences.flatMap { $0 }, c)).value
        #expect(strict.value > micro)
        // With one sequence both scopes agree.
        let one = try route(sequences[1], c)
        #expect(try loss.perSequence(one).value == loss.microBatch(one).value)
    }

    @Test func badInput() throws {
        let c = GatingConfiguration(expertCount: 4, topK: 2)
        #expect(throws: FulcrumError.invalidParameter(argument: "coefficient", value: "-1.0", requirement: "finite and >= 0")) {
            try LoadBalancingLoss(configuration: c, coefficient: -1)
        }
        let other = try route([Float](repeating: 0, count: 10), GatingConfiguration(expertCount: 5, topK: 2))
        #expect(throws: FulcrumError.shapeMismatch(argument: "routing", expected: "E=4 M=0 k=2", actual: "E=5 M=0 k=2")) {
            try LoadBalancingLoss(configuration: c).microBatch(other)
        }
        let empty = try route([], c)
        #expect(throws: FulcrumError.emptyReduction(argument: "routing", reason: "the micro-batch has no tokens")) {
            try LoadBalancingLoss(configuration: c).microBatch(empty)
        }
        // Raw statistics: a NaN score sum gave a NaN loss; impossible counts gave a number.
        let loss = try LoadBalancingLoss(configuration: c)
        #expect(throws: FulcrumError.nonFiniteValue(argument: "scoreSums", row: 0, column: 0)) {
            try loss.microBatch(counts: [1, 1, 0, 0], scoreSums: [.nan, 0, 0, 0], tokenCount: 1)
        }
        #expect(throws: FulcrumError.invalidParameter(argument: "scoreSums[2]", value: "-0.5", requirement: ">= 0")) {
            try loss.microBatch(counts: [1, 1, 0, 0], scoreSums: [0.5, 0.5, -0.5, 0], tokenCount: 1)
        }
        #expect(throws: FulcrumError.indexOutOfRange(argument: "counts", position: 0, value: 5, validRange: "0...1")) {
            try loss.microBatch(counts: [5, 0, 0, 0], scoreSums: [1, 0, 0, 0], tokenCount: 1)
        }
        #expect(throws: FulcrumError.indexOutOfRange(argument: "counts", position: 3, value: -1, validRange: "0...2")) {
            try loss.microBatch(counts: [2, 1, 0, -1], scoreSums: [1, 1, 0, 0], tokenCount: 2)
        }
    }

    /// One coefficient row per sequence of at least one token: −1 trapped on a range, 0 returned
    /// no rows, more rows than tokens cannot be matched by any sequence offsets.
    @Test func sequencesMustBeOneToTheTokenCount() throws {
        let loss = try LoadBalancingLoss(configuration: GatingConfiguration(expertCount: 4, topK: 2))
        for sequences in [-1, 0, 3] {
            #expect(throws: FulcrumError.invalidParameter(argument: "sequences", value: "\(sequences)", requirement: "in 1...2 (sequences of at least one token)")) {
                try loss.microBatch(counts: [2, 1, 1, 0], scoreSums: [1, 0.5, 0.5, 0], tokenCount: 2, sequences: sequences)
            }
        }
        #expect(try loss.microBatch(counts: [2, 1, 1, 0], scoreSums: [1, 0.5, 0.5, 0], tokenCount: 2, sequences: 2).coefficients.rows == 2)
    }

    /// A routing without tokens has a sequence of 0 tokens: its f and p were 0/0, a NaN loss.
    @Test func perSequenceOfAnEmptyRoutingThrows() throws {
        let c = GatingConfiguration(expertCount: 4, topK: 2)
        #expect(throws: FulcrumError.emptyReduction(argument: "routing", reason: "the micro-batch has no tokens")) {
            try LoadBalancingLoss(configuration: c).perSequence(try route([], c))
        }
    }

    /// The statistics of a `GatingResult` are settable: reshaped ones indexed out of range.
    @Test func reshapedRoutingStatisticsThrow() throws {
        let c = GatingConfiguration(expertCount: 4, topK: 2)
        let loss = try LoadBalancingLoss(configuration: c)
        let routing = try route([Float](repeating: 0, count: 16), c, offsets: [0, 1, 4])
        var fewerSequences = routing
        fewerSequences.expertCounts = try Matrix(rows: 1, columns: 4, repeating: 0)
        #expect(throws: FulcrumError.shapeMismatch(argument: "routing", expected: "expertCounts 2x4", actual: "expertCounts 1x4")) {
            try loss.perSequence(fewerSequences)
        }
        var fewerExperts = routing
        fewerExperts.scoreSums = try Matrix(rows: 2, columns: 3, repeating: 0)
        #expect(throws: FulcrumError.shapeMismatch(argument: "routing", expected: "scoreSums 2x4", actual: "scoreSums 2x3")) {
            try loss.microBatch(fewerExperts)
        }
        var moreTokens = routing
        moreTokens.logSumExp.append(0)
        #expect(throws: FulcrumError.shapeMismatch(argument: "routing", expected: "logSumExp 4", actual: "logSumExp 5")) {
            try GlobalBatchBalance(loss: loss).record(moreTokens)
        }
    }
}
