import Testing
import FulcrumKernels
@testable import FulcrumMoE

@Suite("Collectives")
struct CollectiveTests {
    @Test func singleProcessIsTheIdentity() throws {
        var values: [Double] = [1, 2.5]
        try SingleProcessCollective().allReduceSum(&values)
        #expect(values == [1, 2.5])
    }

    @Test func inProcessRanksSumInRankOrder() throws {
        // Rank r contributes [r, 10^-16·r, 1]: summed in rank order on every rank.
        let results = try InProcessCollectiveGroup.run(worldSize: 5) { collective in
            var ints: [Int64] = [Int64(collective.rank), 1]
            try collective.allReduceSum(&ints)
            var doubles: [Double] = [0.1 * Double(collective.rank), 1e-16 * Double(collective.rank + 1)]
            try collective.allReduceSum(&doubles)
            return (ints, doubles.map(\.bitPattern))
        }
        var expected = [0.0, 0.0]
        for r in 0..<5 { expected[0] += 0.1 * Double(r); expected[1] += 1e-16 * Double(r + 1) }
        for (ints, doubles) in results {
            #expect(ints == [10, 5])
            #expect(doubles == expected.map(\.bitPattern))
        }
    }

    @Test func mismatchedLengthsThrowOnEveryRank() throws {
        #expect(throws: FulcrumError.self) {
            _ = try InProcessCollectiveGroup.run(worldSize: 3) { collective in
                var values = [Int64](repeating: 1, count: collective.rank == 1 ? 2 : 3)
                try collective.allReduceSum(&values)
                return values
            }
        }
        #expect(throws: FulcrumError.invalidParameter(argument: "worldSize", value: "0", requirement: ">= 1")) {
            try InProcessCollectiveGroup(worldSize: 0)
        }
    }
}
