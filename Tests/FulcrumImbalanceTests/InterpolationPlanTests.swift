import Testing
import FulcrumKernels
@testable import FulcrumImbalance

@Suite("Interpolation plan: listed rows and uniform runs")
struct InterpolationPlanTests {
    /// Six points with D = 5 (not a multiple of the four-lane step), values of mixed sign and scale.
    let columns = 5
    let features: [Float] = (0..<30).map { (i: Int) -> Float in
        let value = Float((i * 37) % 23 - 11)
        return i % 3 == 0 ? value * 0.125 : value * 3.5
    }

    /// `x + gap·(y − x)` in Double, rounded once: the definition the plan promises.
    func expectedRow(_ seed: Int, _ partner: Int, _ gap: Double) -> [Float] {
        (0..<columns).map { c in
            let a = Double(features[seed * columns + c])
            return Float(a + gap * (Double(features[partner * columns + c]) - a))
        }
    }

    /// A run crossing draw blocks, and one shorter than the write pipeline's first stage.
    @Test("runs keep their order and labels; uniform rows cross draw blocks and match their seeds",
          arguments: [2 * InterpolationPlan.drawBlock + 17, 3])
    func mixedRuns(uniformCount: Int) throws {
        var plan = InterpolationPlan()
        var generator = SplitMix64(seed: 5)
        let pairs = NeighborPairs(seeds: [2, 3, 4], neighbors: [[3, 4], [2], [5, 2]])
        plan.add(seed: 0, partner: 1, gap: 0.5, label: 7)
        plan.addUniform(count: uniformCount, pairs: pairs, stepSize: 0.5, label: 8, generator: &generator)
        plan.add(seed: 5, partner: 0, gap: 0.25, label: 7)
        plan.addUniform(count: 0, pairs: pairs, stepSize: 1, label: 9, generator: &generator)

        #expect(plan.count == uniformCount + 2)
        #expect(plan.labels == [7] + Array(repeating: 8, count: uniformCount) + [7])
        let seeds = plan.seedRows()
        #expect(seeds.count == plan.count)
        #expect(seeds.first == 0 && seeds.last == 5)

        var written = [Float](repeating: .nan, count: plan.count * columns)
        features.withUnsafeBufferPointer { f in
            written.withUnsafeMutableBufferPointer { out in
                plan.write(from: MatrixView(unchecked: f.baseAddress, rows: 6, columns: columns, rowStride: columns), into: out.baseAddress!)
            }
        }
        func row(_ r: Int) -> [Float] { Array(written[r * columns ..< (r + 1) * columns]) }
        #expect(row(0) == expectedRow(0, 1, 0.5))
        #expect(row(plan.count - 1) == expectedRow(5, 0, 0.25))
        var partnersSeen = Set<[Int]>()
        for r in 1...uniformCount {
            let seed = seeds[r]
            let partners = (0..<pairs.seeds.count).filter { pairs.seeds[$0] == seed }.map { pairs.partners[$0] }
            #expect(!partners.isEmpty, "row \(r) has seed \(seed), which is not in the pair table")
            let point = row(r), a = Array(features[seed * columns ..< (seed + 1) * columns])
            let partner = partners.first { p in onSegment(point, a, Array(features[p * columns ..< (p + 1) * columns]), stepSize: 0.5) }
            #expect(partner != nil, "row \(r) is not on a half segment from its seed \(seed)")
            if let partner { partnersSeen.insert([seed, partner]) }
        }
        // Every one of the five pairs is drawn among thousands of rows.
        if uniformCount > 1000 { #expect(partnersSeen.count == 5) }
    }

    @Test("the same plan writes bitwise the same rows with 1 and 2 threads")
    func threadCount() throws {
        func run(_ threads: Int) throws -> [Float] {
            let saved = Threads.count
            try Threads.setCount(threads)
            defer { try? Threads.setCount(saved) }
            var plan = InterpolationPlan()
            var generator = SplitMix64(seed: 9)
            plan.addUniform(count: 3 * InterpolationPlan.drawBlock, seeds: [0, 1, 2], neighbors: [[1, 2], [0], [3, 4, 5]],
                            stepSize: 1, label: 1, generator: &generator)
            var written = [Float](repeating: 0, count: plan.count * columns)
            features.withUnsafeBufferPointer { f in
                written.withUnsafeMutableBufferPointer { out in
                    plan.write(from: MatrixView(unchecked: f.baseAddress, rows: 6, columns: columns, rowStride: columns), into: out.baseAddress!)
                }
            }
            return written
        }
        let one = try run(1), two = try run(2)
        #expect(one.map(\.bitPattern) == two.map(\.bitPattern))
    }
}
