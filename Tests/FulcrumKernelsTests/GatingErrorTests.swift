import Testing
@testable import FulcrumKernels

@Suite("Gating rejects bad input with a named FulcrumError")
struct GatingErrorTests {
    static let logits = try! Matrix<Float>(rows: 4, columns: 8, repeating: 0)

    static func invalid(_ argument: String) -> (any Error) -> Bool {
        { error in
            if case let .invalidParameter(name, _, _) = error as? FulcrumError { return name == argument }
            return false
        }
    }

    @Test func badOptions() {
        let cases: [(GatingConfiguration, String)] = [
            (GatingConfiguration(expertCount: 8, topK: 0), "topK"),
            (GatingConfiguration(expertCount: 8, topK: 9), "topK"),
            (GatingConfiguration(expertCount: 6, topK: 2, nullExpertCount: 2, groupCount: 3), "groupCount"),
            (GatingConfiguration(expertCount: 8, topK: 2, groupCount: 4, groupTopK: 5), "groupTopK"),
            (GatingConfiguration(expertCount: 8, topK: 5, groupCount: 4, groupTopK: 2), "topK"),
            (GatingConfiguration(expertCount: 8, topK: 2, capacityFactor: 0), "capacityFactor"),
            (GatingConfiguration(expertCount: 8, topK: 2, capacityFactor: -1), "capacityFactor"),
            (GatingConfiguration(expertCount: 8, topK: 2, capacityFactor: .nan), "capacityFactor"),
            (GatingConfiguration(expertCount: 0, topK: 2, nullExpertCount: 8), "expertCount"),
            (GatingConfiguration(expertCount: 8, topK: 2, scalingFactor: 0), "scalingFactor"),
            (GatingConfiguration(expertCount: 6, topK: 2, nullExpertCount: -1), "nullExpertCount"),
        ]
        for (c, argument) in cases {
            #expect(throws: FulcrumError.self, "\(argument)") { try route(Self.logits, c) }
            #expect(performing: { try route(Self.logits, c) }, throws: Self.invalid(argument))
        }
    }

    /// Expert indices are Int32: E + M beyond that is refused before E + M is ever formed.
    @Test func expertCountsBeyondInt32() {
        #expect(performing: { try GatingConfiguration(expertCount: 4, topK: 2, nullExpertCount: .max).validate() },
                throws: Self.invalid("nullExpertCount"))
        #expect(performing: { try GatingConfiguration(expertCount: .max, topK: 2).validate() }, throws: Self.invalid("expertCount"))
    }

    /// A finite but huge capacity factor trapped converting C to Int; C above N never binds.
    @Test func capacityIsAtMostTheTokenCount() throws {
        let huge = GatingConfiguration(expertCount: 8, topK: 2, capacityFactor: 1e300)
        #expect(huge.capacity(tokenCount: 4) == 4)
        #expect(GatingConfiguration(expertCount: 8, topK: 2, capacityFactor: 1.5).capacity(tokenCount: 4) == 2)  // ⌈4·2/8·1.5⌉
        let result = try route(Self.logits, huge)
        #expect(result.summary.capacity == 4 && result.summary.droppedAssignments == 0)
    }

    /// Unvalidated options or a negative N trapped converting C = ∓∞ to Int: no capacity then.
    @Test func capacityOfInvalidOptionsOrTokenCountIsNil() {
        #expect(GatingConfiguration(expertCount: 8, topK: 2, capacityFactor: -.infinity).capacity(tokenCount: 4) == nil)
        #expect(GatingConfiguration(expertCount: 8, topK: 2, capacityFactor: .infinity).capacity(tokenCount: -4) == nil)
        #expect(GatingConfiguration(expertCount: 8, topK: 2, capacityFactor: 1.5).capacity(tokenCount: -4) == nil)
        #expect(GatingConfiguration(expertCount: 8, topK: 9, capacityFactor: 1.5).capacity(tokenCount: 4) == nil)
        #expect(GatingConfiguration(expertCount: 8, topK: 2, capacityFactor: 1.5).capacity(tokenCount: 0) == 0)
    }

    @Test func mismatchedShapes() {
        #expect(throws: FulcrumError.shapeMismatch(argument: "logits", expected: "4x6", actual: "4x8")) {
            try route(Self.logits, GatingConfiguration(expertCount: 6, topK: 2))
        }
        #expect(throws: FulcrumError.shapeMismatch(argument: "expertBias", expected: "8", actual: "3")) {
            try route(Self.logits, GatingConfiguration(expertCount: 8, topK: 2), bias: [0, 0, 0])
        }
        #expect(throws: FulcrumError.shapeMismatch(argument: "indices", expected: "4x2", actual: "4x3")) {
            let indices = UnsafeMutableBufferPointer<Int32>.allocate(capacity: 12)
            let weights = UnsafeMutableBufferPointer<Float>.allocate(capacity: 8)
            let lse = UnsafeMutableBufferPointer<Float>.allocate(capacity: 4)
            let real = UnsafeMutableBufferPointer<Int32>.allocate(capacity: 4)
            let counts = UnsafeMutableBufferPointer<Int64>.allocate(capacity: 8)
            let sums = UnsafeMutableBufferPointer<Double>.allocate(capacity: 8)
            defer {
                indices.deallocate(); weights.deallocate(); lse.deallocate()
                real.deallocate(); counts.deallocate(); sums.deallocate()
            }
            let outputs = GatingOutputs(
                indices: try MutableMatrixView(indices, rows: 4, columns: 3),
                weights: try MutableMatrixView(weights, rows: 4, columns: 2),
                logSumExp: lse, realExpertCounts: real,
                expertCounts: try MutableMatrixView(counts, rows: 1, columns: 8),
                scoreSums: try MutableMatrixView(sums, rows: 1, columns: 8))
            try Self.logits.withView { x in
                try Gating.forward(logits: x, configuration: GatingConfiguration(expertCount: 8, topK: 2), into: outputs)
            }
        }
    }

    @Test(arguments: [Float.nan, .infinity, -.infinity])
    func nonFiniteLogitsThrowAtTheirPosition(_ bad: Float) throws {
        var logits = try Matrix<Float>(rows: 1200, columns: 10, repeating: 0.5)
        logits[700, 9] = bad  // a later block, the tail lanes of the row
        logits[1100, 2] = bad
        #expect(throws: FulcrumError.nonFiniteValue(argument: "logits", row: 700, column: 9)) {
            try route(logits, GatingConfiguration(expertCount: 10, topK: 2))
        }
        #expect(throws: FulcrumError.nonFiniteValue(argument: "expertBias", row: 4, column: 0)) {
            try route(Self.logits, GatingConfiguration(expertCount: 8, topK: 2), bias: [0, 0, 0, 0, bad, 0, 0, 0])
        }
    }

    @Test func sequenceOffsetsMustCoverTheTokens() {
        for offsets in [[0, 3], [0, 2, 2, 4], [1, 4], [0, 5], [0], [0, 3, 2, 4]] {
            #expect(performing: { try route(Self.logits, GatingConfiguration(expertCount: 8, topK: 2), offsets: offsets) },
                    throws: Self.invalid("sequenceOffsets"))
        }
    }

    @Test func backwardChecksItsInputs() throws {
        let c = GatingConfiguration(expertCount: 8, topK: 2)
        let forward = try route(Self.logits, c)
        var badIndices = forward.indices
        badIndices[2, 1] = 8
        var logits = Self.logits
        logits[3, 4] = .nan
        func run(_ x: Matrix<Float>, _ idx: Matrix<Int32>, coefficients: Matrix<Double>? = nil, gamma: Float = 0,
                 logSumExp: [Float]? = nil) throws {
            var out = try Matrix<Float>(rows: 4, columns: 8, repeating: 0)
            try x.withView { xv in try idx.withView { iv in try (logSumExp ?? forward.logSumExp).withUnsafeBufferPointer { lse in
                try out.withMutableView { ov in
                    if let coefficients {
                        try coefficients.withView { cv in
                            try Gating.backward(logits: xv, configuration: c, indices: iv, logSumExp: lse, weightGradients: nil,
                                                balanceCoefficients: cv, zLossCoefficient: gamma, into: ov)
                        }
                    } else {
                        try Gating.backward(logits: xv, configuration: c, indices: iv, logSumExp: lse, weightGradients: nil,
                                            balanceCoefficients: nil, zLossCoefficient: gamma, into: ov)
                    }
                }
            } } }
        }
        #expect(throws: FulcrumError.indexOutOfRange(argument: "indices", position: 2, value: 8, validRange: "0..<8 or ~(0..<8)")) {
            try run(Self.logits, badIndices)
        }
        #expect(throws: FulcrumError.nonFiniteValue(argument: "logits", row: 3, column: 4)) { try run(logits, forward.indices) }
        #expect(throws: FulcrumError.shapeMismatch(argument: "balanceCoefficients", expected: "1x8", actual: "2x8")) {
            try run(Self.logits, forward.indices, coefficients: try Matrix(rows: 2, columns: 8, repeating: 0))
        }
        var nanCoefficients = try Matrix<Double>(rows: 1, columns: 8, repeating: 0)
        nanCoefficients[0, 6] = .infinity
        #expect(throws: FulcrumError.nonFiniteValue(argument: "balanceCoefficients", row: 0, column: 6)) {
            try run(Self.logits, forward.indices, coefficients: nanCoefficients)
        }
        #expect(performing: { try run(Self.logits, forward.indices, gamma: .nan) }, throws: Self.invalid("zLossCoefficient"))
        // A non-finite log-sum-exp gave NaN or wrong gradients without an error.
        for bad in [Float.nan, .infinity, -.infinity] {
            var lse = forward.logSumExp
            lse[2] = bad
            #expect(throws: FulcrumError.nonFiniteValue(argument: "logSumExp", row: 2, column: 0)) {
                try run(Self.logits, forward.indices, logSumExp: lse)
            }
        }
        // Finite, but centring the row on its midpoint leaves values beyond the Float range.
        var wideCoefficients = try Matrix<Double>(rows: 1, columns: 8, repeating: 0)
        (wideCoefficients[0, 2], wideCoefficients[0, 5]) = (-1e300, 1e300)
        #expect(performing: { try run(Self.logits, forward.indices, coefficients: wideCoefficients) }, throws: Self.invalid("balanceCoefficients"))
    }
}
