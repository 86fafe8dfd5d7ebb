import Testing
import FulcrumKernels
@testable import FulcrumImbalance

@Suite("Borderline-SMOTE, ADASYN, random over-sampling")
struct OverSamplerTests {
    /// Overlapping blobs so that some minority samples are in danger.
    let data = LabelledData.blobs(sizes: [150, 40], columns: 2, separation: 1.2, seed: 3)

    func members(_ label: Int) -> [Int] { (0..<data.rows).filter { data.labels[$0] == label } }

    func danger(m: Int) -> [Int] {
        members(1).filter { i in
            let foreign = bruteNeighbors(data, of: i, among: Array(0..<data.rows), k: m).filter { data.labels[$0] != 1 }.count
            return 2 * foreign >= m && foreign < m
        }
    }

    @Test("borderline-1: every synthetic row lies between a danger sample and one of its class neighbours")
    func borderline1() throws {
        let result = try data.resample(BorderlineSMOTE(kNeighbors: 3, mNeighbors: 6))
        #expect(result.classCounts == [0: 150, 1: 150])
        let seeds = danger(m: 6)
        #expect(!seeds.isEmpty && seeds.count < 40)
        for r in data.rows..<result.rows {
            let p = Array(result.features[r * 2 ..< r * 2 + 2])
            #expect(seeds.contains { s in bruteNeighbors(data, of: s, among: members(1), k: 3).contains { onSegment(p, data.row(s), data.row($0)) } },
                    "row \(r)")
        }
    }

    @Test("borderline-2: rows towards class neighbours (gap < 1) or any neighbour (gap < 0.5)")
    func borderline2() throws {
        let result = try data.resample(BorderlineSMOTE(kNeighbors: 3, mNeighbors: 6, kind: .borderline2))
        #expect(result.classCounts == [0: 150, 1: 150])
        let seeds = danger(m: 6)
        for r in data.rows..<result.rows {
            let p = Array(result.features[r * 2 ..< r * 2 + 2])
            let ok = seeds.contains { s in
                bruteNeighbors(data, of: s, among: members(1), k: 3).contains { onSegment(p, data.row(s), data.row($0)) }
                    || bruteNeighbors(data, of: s, among: Array(0..<data.rows), k: 3).contains { onSegment(p, data.row(s), data.row($0), stepSize: 0.5) }
            }
            #expect(ok, "row \(r)")
        }
    }

    @Test("ADASYN: per-seed counts are the largest-remainder split of the foreign-neighbour ratios")
    func adasyn() throws {
        let k = 4
        let result = try data.resample(ADASYN(nNeighbors: k))
        #expect(result.classCounts == [0: 150, 1: 150])
        let rows = members(1)
        let ratios = rows.map { i in Double(bruteNeighbors(data, of: i, among: Array(0..<data.rows), k: k).filter { data.labels[$0] != 1 }.count) / Double(k) }
        let quotas = ratios.map { $0 / ratios.reduce(0, +) * 110 }
        var expected = quotas.map { Int($0) }
        let order = quotas.indices.sorted { (quotas[$0] - Double(expected[$0]), $1) > (quotas[$1] - Double(expected[$1]), $0) }
        for p in order.prefix(110 - expected.reduce(0, +)) { expected[p] += 1 }
        // Rows come seed by seed: the first expected[0] rows from seed rows[0], and so on.
        var r = data.rows
        for (p, g) in expected.enumerated() {
            let partners = bruteNeighbors(data, of: rows[p], among: rows, k: k)
            for _ in 0..<g {
                let point = Array(result.features[r * 2 ..< r * 2 + 2])
                #expect(partners.contains { onSegment(point, data.row(rows[p]), data.row($0)) }, "row \(r), seed \(rows[p])")
                r += 1
            }
        }
        #expect(r == result.rows)
    }

    @Test("ADASYN without any foreign neighbour is an error naming labels")
    func adasynSeparated() throws {
        let far = LabelledData.blobs(sizes: [30, 10], columns: 2, separation: 100)
        #expect(throws: FulcrumError.self) { try far.resample(ADASYN(nNeighbors: 3)) }
    }

    @Test("random over-sampling copies class rows; the smoothed bootstrap adds noise of the right scale")
    func randomOver() throws {
        let plain = try data.resample(RandomOverSampler())
        #expect(plain.classCounts == [0: 150, 1: 150])
        let indices = try #require(plain.sampleIndices)
        #expect(Array(indices.prefix(data.rows)) == Array(0..<data.rows))
        for r in data.rows..<plain.rows {
            #expect(data.labels[indices[r]] == 1)
            #expect(Array(plain.features[r * 2 ..< r * 2 + 2]) == data.row(indices[r]))
        }
        let zero = try data.resample(RandomOverSampler(shrinkage: 0))
        #expect(zero.features == plain.features)
        let smooth = try data.resample(RandomOverSampler(shrinkage: 1))
        // h = (4 / ((2 + 2) · 190))^(1/6); the noise per feature has standard deviation h · σ_class.
        let h = pow(4.0 / (4 * 190), 1.0 / 6)
        let classRows = members(1)
        for c in 0..<2 {
            let values = classRows.map { Double(data.features[$0 * 2 + c]) }
            let mean = values.reduce(0, +) / 40
            let sigma = (values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / 39).squareRoot()
            let noise = (data.rows..<smooth.rows).map { Double(smooth.features[$0 * 2 + c]) - Double(data.features[indices[$0] * 2 + c]) }
            let spread = (noise.map { $0 * $0 }.reduce(0, +) / Double(noise.count)).squareRoot()
            // 110 draws: the sample standard deviation is within ±30% of h·σ with overwhelming probability.
            #expect(abs(spread / (h * sigma) - 1) < 0.3)
        }
        #expect(throws: FulcrumError.self) { try data.resample(RandomOverSampler(shrinkage: -1)) }
    }

    @Test("a shrinkage whose noise overflows Float is an error naming shrinkage, not infinite rows")
    func hugeShrinkage() {
        #expect(throws: FulcrumError.invalidParameter(argument: "shrinkage", value: "1e+40",
                                                      requirement: "small enough that the noisy rows of class 1 fit in Float")) {
            try data.resample(RandomOverSampler(shrinkage: 1e40))
        }
    }
}

import Foundation
