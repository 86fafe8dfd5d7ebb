import Foundation
import Testing
import FulcrumKernels
@testable import FulcrumMoE

@Suite("Global-batch load balancing")
struct GlobalBatchBalanceTests {
    static let configuration = GatingConfiguration(expertCount: 16, topK: 4, nullExpertCount: 4)

    @Test func oneMicroBatchEqualsTheMicroBatchLoss() throws {
        var random = MoERandom(seed: 8)
        let c = Self.configuration
        let routing = try route(random.domainLogits(300, experts: 20, favourite: 5), c)
        let loss = try LoadBalancingLoss(configuration: c, coefficient: 0.01)
        let micro = try loss.microBatch(routing)
        let twoPhase = GlobalBatchBalance(loss: loss)
        try twoPhase.record(routing)
        try twoPhase.synchronize()
        let global = try twoPhase.loss(for: routing)
        let streaming = try GlobalBatchBalance(loss: loss).streamingLoss(for: routing)
        for result in [global, streaming] {
            #expect(result.value == micro.value)
            #expect(result.coefficients.storage == micro.coefficients.storage)
        }
    }

    /// 4 ranks × 3 micro-batches of 200 tokens, each micro-batch from one "domain".
    static func microBatches() -> [[[Float]]] {
        var random = MoERandom(seed: 21)
        return (0..<4).map { rank in (0..<3).map { m in random.domainLogits(200, experts: 20, favourite: (5 * rank + 7 * m) % 20) } }
    }

    @Test func fourRanksTimesThreeMicroBatchesEqualTheConcatenatedBatch() throws {
        let c = Self.configuration
        let loss = try LoadBalancingLoss(configuration: c, coefficient: 0.01)
        let data = Self.microBatches()
        // Single process over the concatenated global batch.
        let all = data.flatMap { $0.flatMap { $0 } }
        let concatenated = try route(all, c)
        let reference = try loss.microBatch(concatenated)
        let referenceGradient = try balanceGradient(all, concatenated, reference)

        struct RankOutput: Sendable { var counts: [Int64]; var values: [Double]; var gradients: [[Float]] }
        let outputs = try InProcessCollectiveGroup.run(worldSize: 4) { collective in
            let balance = GlobalBatchBalance(loss: loss, collective: collective)
            let routings = try data[collective.rank].map { try route($0, c) }
            for routing in routings { try balance.record(routing) }
            try balance.synchronize()
            let losses = try routings.map { try balance.loss(for: $0) }
            let gradients = try (0..<3).map { try balanceGradient(data[collective.rank][$0], routings[$0], losses[$0]) }
            return RankOutput(counts: balance.globalCounts, values: losses.map(\.value), gradients: gradients)
        }
        for output in outputs { #expect(output.counts == concatenated.totalExpertCounts) }  // bitwise
        // Equal micro-batches: the mean of the 12 losses is the global-batch LBL.
        let mean = outputs.flatMap(\.values).reduce(0, +) / 12
        #expect(close(mean, reference.value, rel: 1e-6))
        // Each micro-batch's gradient is 12× the concatenated gradient of its rows.
        let gradient = outputs.flatMap { $0.gradients.flatMap { $0 } }.map { $0 / 12 }
        let scale = referenceGradient.map { abs(Double($0)) }.max()!
        let worst = zip(gradient, referenceGradient).map { abs(Double($0) - Double($1)) }.max()!
        #expect(worst <= 1e-6 * scale)
    }

    @Test func streamingUsesRunningCounts() throws {
        let c = Self.configuration
        let loss = try LoadBalancingLoss(configuration: c, coefficient: 0.01)
        let data = Self.microBatches()
        let outputs = try InProcessCollectiveGroup.run(worldSize: 4) { collective in
            let balance = GlobalBatchBalance(loss: loss, collective: collective)
            var loads: [[Double]] = []
            for m in 0..<3 {
                let routing = try route(data[collective.rank][m], c)
                let result = try balance.streamingLoss(for: routing)
                loads.append((0..<20).map { result.loads[0, $0] })
            }
            return loads
        }
        // Micro-batch j sees the loads of micro-batches 0…j of every rank.
        for j in 0..<3 {
            let seen = try (0..<4).flatMap { r in try (0...j).map { try route(data[r][$0], c) } }
            var counts = [Int64](repeating: 0, count: 20)
            for routing in seen { for e in 0..<20 { counts[e] += routing.totalExpertCounts[e] } }
            let expected = loss.loads(counts: counts, tokens: Int64(seen.count * 200))
            for output in outputs { #expect(output[j] == expected) }
        }
        // Micro-batch and global scope differ on these one-domain micro-batches.
        let micro = try loss.microBatch(try route(data[0][0], c)).value
        let twoPhase = GlobalBatchBalance(loss: loss)
        for m in 0..<3 { try twoPhase.record(try route(data[0][m], c)) }
        try twoPhase.synchronize()
        #expect(try twoPhase.loss(for: try route(data[0][0], c)).value < micro)
    }

    @Test func lossBeforeSynchronizeThrows() throws {
        let c = Self.configuration
        let balance = GlobalBatchBalance(loss: try LoadBalancingLoss(configuration: c))
        let routing = try route([Float](repeating: 0, count: 40), c)
        try balance.record(routing)
        #expect(throws: FulcrumError.self) { try balance.loss(for: routing) }
        try balance.synchronize()
        #expect(balance.globalTokens == 2)
        balance.reset()
        #expect(balance.globalTokens == 0 && balance.globalCounts.allSatisfy { $0 == 0 })
    }

    /// A communicator that breaks the contract: its all-reduce drops the last element.
    struct TruncatingCollective: Collective {
        var rank: Int { 0 }
        var worldSize: Int { 1 }
        func allReduceSum(_ values: inout [Int64]) throws { values.removeLast() }
        func allReduceSum(_ values: inout [Double]) throws { values.removeLast() }
    }

    /// The token count was read past the end of the shorter reply.
    @Test func collectiveReturningAnotherLengthThrows() throws {
        let c = Self.configuration
        let balance = GlobalBatchBalance(loss: try LoadBalancingLoss(configuration: c), collective: TruncatingCollective())
        try balance.record(try route([Float](repeating: 0, count: 40), c))
        #expect(throws: FulcrumError.shapeMismatch(argument: "collective", expected: "21", actual: "20")) { try balance.synchronize() }
        #expect(balance.globalTokens == 0 && balance.globalCounts.allSatisfy { $0 == 0 })
    }

    @Test func readmeExample() throws {
        // Two one-domain micro-batches, E′ = 4, k = 1. Rows [3, 1, 0, 0] pick expert 0 with
        // a = e³/S and b = e/S (S = e³ + e + 2); rows [1, 3, 0, 0] pick expert 1 symmetrically.
        // Micro-batch: f = [½, ½, 0, 0], p₀ = p₁ = (a + b)/2, so LBL = 4·(½p₀ + ½p₁) = 2(a + b).
        // Global batch: f = ¼ everywhere, so LBL = 4·¼·Σᵢpᵢ = 1, and its gradient vanishes.
        let c = GatingConfiguration(expertCount: 4, topK: 1)
        let code: [Float] = [3, 1, 0, 0, 3, 1, 0, 0, 1, 3, 0, 0, 1, 3, 0, 0]
        let prose: [Float] = [0, 0, 3, 1, 0, 0, 3, 1, 0, 0, 1, 3, 0, 0, 1, 3]
        let loss = try LoadBalancingLoss(configuration: c, coefficient: 1)
        let routings = try [route(code, c), route(prose, c)]
        let e = Foundation.exp(1.0), s = e * e * e + e + 2
        let expected = 2 * (e * e * e + e) / s  // 1.83873…
        let global = GlobalBatchBalance(loss: loss)
        for routing in routings { try global.record(routing) }
        try global.synchronize()
        for (logits, routing) in zip([code, prose], routings) {
            #expect(close(try loss.microBatch(routing).value, expected, rel: 1e-6))
            let term = try global.loss(for: routing)
            #expect(close(term.value, 1, rel: 1e-6))
            #expect(try balanceGradient(logits, routing, term).allSatisfy { abs($0) < 1e-7 })
            #expect(try balanceGradient(logits, routing, loss.microBatch(routing)).contains { abs($0) > 0.03 })
        }
    }
}
