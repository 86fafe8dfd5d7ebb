import Testing
import Foundation
@testable import FulcrumKernels

/// A named router setup for the parameterised reference test.
struct GatingCase: CustomTestStringConvertible, Sendable {
    var name: String
    var configuration: GatingConfiguration
    var withBias = false
    var testDescription: String { name }
}

let gatingCases: [GatingCase] = [
    GatingCase(name: "softmax top-k then softmax", configuration: GatingConfiguration(expertCount: 16, topK: 2)),
    GatingCase(name: "softmax pre", configuration: GatingConfiguration(expertCount: 16, topK: 3, preSoftmax: true)),
    GatingCase(name: "softmax pre normalised scaled",
               configuration: GatingConfiguration(expertCount: 16, topK: 3, preSoftmax: true, normalizeTopK: true, scalingFactor: 2.5)),
    GatingCase(name: "sigmoid", configuration: GatingConfiguration(expertCount: 16, topK: 4, scoreFunction: .sigmoid)),
    GatingCase(name: "sigmoid normalised scaled",
               configuration: GatingConfiguration(expertCount: 16, topK: 4, scoreFunction: .sigmoid, normalizeTopK: true, scalingFactor: 2.5)),
    GatingCase(name: "softmax with bias", configuration: GatingConfiguration(expertCount: 16, topK: 2), withBias: true),
    GatingCase(name: "softmax pre with bias", configuration: GatingConfiguration(expertCount: 16, topK: 2, preSoftmax: true), withBias: true),
    GatingCase(name: "sigmoid with bias", configuration: GatingConfiguration(expertCount: 16, topK: 2, scoreFunction: .sigmoid), withBias: true),
    GatingCase(name: "group-limited", configuration: GatingConfiguration(expertCount: 32, topK: 4, groupCount: 8, groupTopK: 2)),
    GatingCase(name: "group-limited sigmoid with bias",
               configuration: GatingConfiguration(expertCount: 32, topK: 6, scoreFunction: .sigmoid, groupCount: 4, groupTopK: 3), withBias: true),
    GatingCase(name: "null experts", configuration: GatingConfiguration(expertCount: 13, topK: 4, nullExpertCount: 3)),
    GatingCase(name: "odd expert count", configuration: GatingConfiguration(expertCount: 13, topK: 5, preSoftmax: true)),
    GatingCase(name: "k = 8 of 40 (packed keys, ties left to the exact selection)", configuration: GatingConfiguration(expertCount: 40, topK: 8)),
    GatingCase(name: "k = 8 of 256 (packed keys, the most experts they name)", configuration: GatingConfiguration(expertCount: 256, topK: 8)),
    GatingCase(name: "k = 8 of 257 (sorted levels with experts)", configuration: GatingConfiguration(expertCount: 257, topK: 8)),
    GatingCase(name: "top-k then softmax, odd expert count, scaled",
               configuration: GatingConfiguration(expertCount: 13, topK: 3, scalingFactor: 2.5)),
    GatingCase(name: "k equals E' = 7, top-k then softmax", configuration: GatingConfiguration(expertCount: 7, topK: 7)),
    GatingCase(name: "k = 12 of 64 (lane-wise bound)", configuration: GatingConfiguration(expertCount: 64, topK: 12)),
    GatingCase(name: "k = 20 of 64 (three accumulators)", configuration: GatingConfiguration(expertCount: 64, topK: 20)),
    GatingCase(name: "k = 6 of 48 pre-softmax (own bound)", configuration: GatingConfiguration(expertCount: 48, topK: 6, preSoftmax: true)),
    GatingCase(name: "k equals E'", configuration: GatingConfiguration(expertCount: 11, topK: 11)),
    GatingCase(name: "k equals E' sigmoid", configuration: GatingConfiguration(expertCount: 9, topK: 9, scoreFunction: .sigmoid)),
    GatingCase(name: "capacity by probability",
               configuration: GatingConfiguration(expertCount: 8, topK: 2, capacityFactor: 0.8, dropPolicy: .probability)),
    GatingCase(name: "capacity by position",
               configuration: GatingConfiguration(expertCount: 8, topK: 2, capacityFactor: 0.8, dropPolicy: .position)),
    GatingCase(name: "capacity with null experts",
               configuration: GatingConfiguration(expertCount: 6, topK: 3, nullExpertCount: 2, capacityFactor: 1, dropPolicy: .position)),
]

@Suite("Gating forward against the Double reference")
struct GatingForwardTests {
    @Test(arguments: gatingCases)
    func matchesReference(_ testCase: GatingCase) throws {
        let c = testCase.configuration
        var random = TestRandom(seed: 17)
        let n = 1100  // three blocks: exercises the block combination
        let logits = random.gridLogits(n, c.totalExpertCount)
        let bias = testCase.withBias ? (0..<c.totalExpertCount).map { _ in Float(random.below(9) - 4) / 8 } : nil
        let result = try route(logits, c, bias: bias)
        let reference = GatingReference.route(logits, c, bias: bias)
        var compared = 0
        var dropped = 0
        for t in 0..<n {
            let r = reference[t]
            #expect(close(Double(result.logSumExp[t]), r.lse, abs: 1e-5, rel: 1e-6), "lse row \(t)")
            if r.ambiguous { continue }
            compared += 1
            for a in 0..<c.topK {
                #expect(Int(result.indices[t, a]) == r.experts[a], "row \(t) slot \(a)")
                #expect(close(Double(result.weights[t, a]), r.weights[a]), "weight row \(t) slot \(a)")
                if r.experts[a] < 0 { dropped += 1 }
            }
            let real = r.experts.filter { ($0 < 0 ? ~$0 : $0) < c.expertCount }.count
            #expect(Int(result.realExpertCounts[t]) == real)
        }
        #expect(compared >= n * 95 / 100)
        #expect(result.summary.droppedAssignments == dropped || compared < n)
        for e in 0..<c.totalExpertCount {
            let count = reference.filter { $0.experts.contains(e) || $0.experts.contains(~e) }.count
            let sum = reference.reduce(0.0) { $0 + $1.scores[e] }
            if compared == n { #expect(result.expertCounts[0, e] == Int64(count), "count of \(e)") }
            #expect(close(result.scoreSums[0, e], sum, abs: 1e-6, rel: 1e-5), "score sum of \(e)")
        }
    }

    /// Rows with a stride: the padding between rows holds NaN, which no pass may read.
    @Test(arguments: [
        GatingConfiguration(expertCount: 24, topK: 2), GatingConfiguration(expertCount: 13, topK: 3),
        GatingConfiguration(expertCount: 13, topK: 3, preSoftmax: true),
    ])
    func stridedRowsMatchContiguousRows(_ c: GatingConfiguration) throws {
        var random = TestRandom(seed: 9)
        let (n, e) = (45, c.totalExpertCount)
        let stride = e + 5
        let logits = random.gridLogits(n, e)
        var padded = [Float](repeating: .nan, count: n * stride)
        for t in 0..<n { for j in 0..<e { padded[t * stride + j] = logits[t, j] } }
        let contiguous = try route(logits, c)
        let strided = try padded.withUnsafeBufferPointer {
            try GatingResult(routing: MatrixView($0, rows: n, columns: e, rowStride: stride), configuration: c)
        }
        #expect(strided.indices.storage == contiguous.indices.storage)
        #expect(strided.weights.storage == contiguous.weights.storage)
        #expect(strided.logSumExp == contiguous.logSumExp)
        #expect(strided.scoreSums.storage == contiguous.scoreSums.storage)
        #expect(strided.expertCounts.storage == contiguous.expertCounts.storage)
    }

    @Test func equalLogitsGoToTheLowerIndices() throws {
        let logits = try Matrix<Float>(rows: 3, columns: 6, repeating: 0.25)
        for preSoftmax in [false, true] {
            let result = try route(logits, GatingConfiguration(expertCount: 6, topK: 3, preSoftmax: preSoftmax, normalizeTopK: true))
            for t in 0..<3 {
                #expect((0..<3).map { result.indices[t, $0] } == [0, 1, 2])
                // Three equal weights normalised to 1: exactly 1/3 each in Float.
                #expect((0..<3).map { result.weights[t, $0] } == [1 / Float(3), 1 / Float(3), 1 / Float(3)])
            }
            #expect((0..<6).map { result.expertCounts[0, $0] } == [3, 3, 3, 0, 0, 0])
        }
    }

    /// The packed keys of the 8-token router drop the low 8 bits of each logit: logits that differ
    /// only there, equal logits and ±0, inside the top k and at its boundary, must still give the
    /// exact stable order.
    @Test func packedKeysOrderExactlyAtTheLastBits() throws {
        var random = TestRandom(seed: 41)
        let (n, e, k) = (80, 256, 8)
        var logits = random.logits(n, e)
        func raised(_ x: Float, units: UInt32) -> Float { Float(bitPattern: x.bitPattern + units) }
        for t in 0..<n {
            // Nine distinct experts in random order: the first seven well inside the top k.
            var chosen: [Int] = []
            while chosen.count < 9 {
                let j = random.below(e)
                if !chosen.contains(j) { chosen.append(j) }
            }
            for (i, j) in chosen.prefix(7).enumerated() { logits[t, j] = 10 + Float(i) }
            let (a, b) = (chosen[7], chosen[8])
            switch t % 6 {
            case 0: (logits[t, a], logits[t, b]) = (5, raised(5, units: 1))           // one unit apart
            case 1: (logits[t, a], logits[t, b]) = (5, raised(5, units: 200))         // same upper bits
            case 2: (logits[t, a], logits[t, b]) = (5, raised(5, units: 256))         // one upper unit apart
            case 3: (logits[t, a], logits[t, b]) = (5, 5)                             // equal
            case 4: (logits[t, chosen[0]], logits[t, a]) = (raised(12, units: 3), 12) // inside the top k
            default:
                // Every logit negative but two zeros of either sign at the top.
                for j in 0..<e { logits[t, j] = -1 - abs(logits[t, j]) }
                (logits[t, a], logits[t, b]) = (-0.0, 0.0)
            }
        }
        let result = try route(logits, GatingConfiguration(expertCount: e, topK: k))
        for t in 0..<n {
            let want = GatingTopKTests.expected((0..<e).map { logits[t, $0] }, k)
            #expect((0..<k).map { result.indices[t, $0] } == want, "row \(t)")
            // Weights: the softmax over the selected logits, in Double.
            let selected = want.map { Double(logits[t, Int($0)]) }
            let terms = selected.map { exp($0 - selected[0]) }
            for a in 0..<k {
                #expect(close(Double(result.weights[t, a]), terms[a] / terms.reduce(0, +)), "row \(t) weight \(a)")
            }
        }
    }

    @Test func singleExpert() throws {
        let logits = try Matrix<Float>(rows: 2, columns: 1, elements: [-7, 30])
        let result = try route(logits, GatingConfiguration(expertCount: 1, topK: 1))
        #expect(result.indices.storage == [0, 0])
        #expect(result.weights.storage == [1, 1])
        // lse of one logit is the logit itself: m + log(e⁰) = m.
        #expect(result.logSumExp == [-7, 30])
        #expect(result.scoreSums.storage == [2])
    }

    @Test func everyTokenToOneExpert() throws {
        var logits = try Matrix<Float>(rows: 600, columns: 8, repeating: 0)
        for t in 0..<600 { logits[t, 5] = 40 }
        let result = try route(logits, GatingConfiguration(expertCount: 8, topK: 1))
        #expect(result.expertCounts.storage == [0, 0, 0, 0, 0, 600, 0, 0])
        #expect(result.indices.storage.allSatisfy { $0 == 5 })
        // p₅ = 1/(1 + 7e⁻⁴⁰) rounds to 1 in Float and the others are 7·e⁻⁴⁰ ≈ 3e-17 each.
        #expect(close(result.scoreSums[0, 5], 600, abs: 1e-9, rel: 0))
    }

    @Test func hugeFiniteLogitsStayFinite() throws {
        let logits = try Matrix<Float>(rows: 1, columns: 4, elements: [3e38, -3e38, 0, 1e30])
        for function in [GatingScoreFunction.softmax, .sigmoid] {
            let c = GatingConfiguration(expertCount: 4, topK: 2, scoreFunction: function, normalizeTopK: true)
            let result = try route(logits, c)
            #expect(result.indices.storage == [0, 3])
            #expect(result.logSumExp == [3e38])
            #expect(result.weights.storage.allSatisfy { $0.isFinite })
            #expect(result.scoreSums.storage.allSatisfy { $0.isFinite })
        }
        // Very negative logits: σ underflows, σ/Σσ falls back to the softmax (equal here).
        let low = try Matrix<Float>(rows: 1, columns: 2, elements: [-120, -120])
        let result = try route(low, GatingConfiguration(expertCount: 2, topK: 2, scoreFunction: .sigmoid, normalizeTopK: true))
        #expect(result.weights.storage == [0.5, 0.5])
        #expect(result.scoreSums.storage == [0.5, 0.5])
    }

    @Test func perSequenceStatistics() throws {
        var random = TestRandom(seed: 5)
        let c = GatingConfiguration(expertCount: 12, topK: 2)
        let logits = random.gridLogits(1300, 12)
        let offsets = [0, 3, 511, 512, 513, 1030, 1300]  // sequences inside and across blocks
        let result = try route(logits, c, offsets: offsets)
        let reference = GatingReference.route(logits, c)
        #expect(result.expertCounts.rows == 6)
        for s in 0..<6 {
            let rows = reference[offsets[s] ..< offsets[s + 1]]
            for e in 0..<12 {
                #expect(result.expertCounts[s, e] == Int64(rows.filter { $0.experts.contains(e) }.count))
                #expect(close(result.scoreSums[s, e], rows.reduce(0.0) { $0 + $1.scores[e] }))
            }
        }
    }

    @Test func emptyBatch() throws {
        let logits = try Matrix<Float>(rows: 0, columns: 4, repeating: 0)
        let result = try route(logits, GatingConfiguration(expertCount: 4, topK: 2, capacityFactor: 1))
        #expect(result.expertCounts.storage == [0, 0, 0, 0])
        #expect(result.summary.droppedAssignments == 0)
    }
}
