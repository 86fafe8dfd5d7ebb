import Testing
@testable import FulcrumKernels

@Suite("Gating is bitwise identical with 1 and 2 threads", .serialized)
struct GatingDeterminismTests {
    /// Bit patterns of every output of a forward and backward pass.
    static func run(_ c: GatingConfiguration, _ logits: Matrix<Float>, offsets: [Int], bias: [Float]?) throws -> [UInt64] {
        let forward = try route(logits, c, bias: bias, offsets: offsets)
        let coefficients = try Matrix<Double>(rows: offsets.count - 1, columns: c.totalExpertCount,
                                              elements: (0..<((offsets.count - 1) * c.totalExpertCount)).map { Double($0 % 7) * 0.1 })
        let g = try Matrix<Float>(rows: logits.rows, columns: c.topK, elements: (0..<(logits.rows * c.topK)).map { Float($0 % 5) - 2 })
        var gradient = try Matrix<Float>(rows: logits.rows, columns: c.totalExpertCount, repeating: 0)
        try logits.withView { x in try forward.indices.withView { idx in try g.withView { gv in try coefficients.withView { cv in
            try forward.logSumExp.withUnsafeBufferPointer { lse in
                try gradient.withMutableView { out in
                    try Gating.backward(logits: x, configuration: c, indices: idx, logSumExp: lse, weightGradients: gv,
                                        balanceCoefficients: cv, sequenceOffsets: offsets, zLossCoefficient: 1e-3, into: out)
                }
            }
        } } } }
        return forward.indices.storage.map { UInt64(UInt32(bitPattern: $0)) }
            + forward.weights.storage.map { UInt64($0.bitPattern) }
            + forward.logSumExp.map { UInt64($0.bitPattern) }
            + forward.realExpertCounts.map { UInt64(UInt32(bitPattern: $0)) }
            + forward.expertCounts.storage.map { UInt64(bitPattern: $0) }
            + forward.scoreSums.storage.map { $0.bitPattern }
            + gradient.storage.map { UInt64($0.bitPattern) }
            + [UInt64(forward.summary.droppedAssignments)]
    }

    @Test func oneAndTwoThreadsAgree() throws {
        let saved = Threads.count
        defer { try? Threads.setCount(saved) }
        var random = TestRandom(seed: 3)
        let logits = random.logits(5000, 72)
        let bias = (0..<72).map { _ in Float(random.uniform(-0.1, 0.1)) }
        let offsets = [0, 100, 700, 2048, 2049, 5000]
        let noBias: [Float]? = nil
        let configurations: [(GatingConfiguration, [Float]?)] = [
            (GatingConfiguration(expertCount: 64, topK: 4, nullExpertCount: 8, capacityFactor: 0.9, dropPolicy: .probability), bias),
            (GatingConfiguration(expertCount: 64, topK: 4, nullExpertCount: 8, preSoftmax: true, capacityFactor: 0.9, dropPolicy: .position), bias),
            (GatingConfiguration(expertCount: 72, topK: 6, scoreFunction: .sigmoid, normalizeTopK: true, groupCount: 8, groupTopK: 3), bias),
            // Eight tokens at a time (no bias): tiles cut at the sequence ends.
            (GatingConfiguration(expertCount: 64, topK: 2, nullExpertCount: 8, capacityFactor: 0.9, dropPolicy: .probability), noBias),
        ]
        for (c, bias) in configurations {
            try Threads.setCount(1)
            let one = try Self.run(c, logits, offsets: offsets, bias: bias)
            try Threads.setCount(2)
            let two = try Self.run(c, logits, offsets: offsets, bias: bias)
            #expect(one == two)
        }
    }
}
