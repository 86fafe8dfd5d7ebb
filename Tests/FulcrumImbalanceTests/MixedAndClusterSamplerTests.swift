import Testing
import FulcrumKernels
@testable import FulcrumImbalance

@Suite("SMOTE-NC, SMOTE-N, k-means SMOTE, cluster centroids")
struct MixedAndClusterSamplerTests {
    /// Two continuous columns and a categorical column (codes 0, 1, 2) in column 1.
    func mixed() -> LabelledData {
        var g = SplitMix64(seed: 11)
        var data = LabelledData.blobs(sizes: [40, 12], columns: 3, separation: 1.5, seed: 4)
        for i in 0..<data.rows { data.features[i * 3 + 1] = Float(g.nextIndex(below: 3)) }
        return data
    }

    @Test("SMOTE-NC: continuous part on a seed-neighbour segment, category the neighbours' most frequent")
    func smotenc() throws {
        let data = mixed()
        let k = 3
        let result = try data.resample(SMOTENC(categoricalFeatures: [1], kNeighbors: k))
        #expect(result.classCounts == [0: 40, 1: 40])
        let minority = (0..<data.rows).filter { data.labels[$0] == 1 }
        // m = median of the minority standard deviations of columns 0 and 2 (two values: their mean).
        let sd = [0, 2].map { c -> Double in
            let v = minority.map { Double(data.features[$0 * 3 + c]) }
            let mean = v.reduce(0, +) / Double(v.count)
            return (v.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(v.count)).squareRoot()
        }
        let m = (sd[0] + sd[1]) / 2
        func distance(_ a: Int, _ b: Int) -> Double {
            let x = data.row(a), y = data.row(b)
            let continuous = (Double(x[0]) - Double(y[0])) * (Double(x[0]) - Double(y[0])) + (Double(x[2]) - Double(y[2])) * (Double(x[2]) - Double(y[2]))
            return continuous + (x[1] == y[1] ? 0 : m * m / 2)
        }
        func neighbors(_ s: Int) -> [Int] {
            minority.filter { $0 != s }.sorted { (distance(s, $0), $0) < (distance(s, $1), $1) }.prefix(k).map { $0 }
        }
        for r in data.rows..<result.rows {
            let p = Array(result.features[r * 3 ..< r * 3 + 3])
            let ok = minority.contains { s in
                let around = neighbors(s)
                let tally = Dictionary(grouping: around.map { data.features[$0 * 3 + 1] }, by: { $0 }).mapValues(\.count)
                let best = tally.values.max()!
                guard tally[p[1]] == best else { return false }
                return around.contains { n in onSegment([p[0], p[2]], [data.row(s)[0], data.row(s)[2]], [data.row(n)[0], data.row(n)[2]]) }
            }
            #expect(ok, "row \(r)")
        }
        #expect(throws: FulcrumError.indexOutOfRange(argument: "categoricalFeatures", position: 1, value: 3, validRange: "0..<3")) {
            try data.resample(SMOTENC(categoricalFeatures: [1, 3]))
        }
        #expect(throws: FulcrumError.self) { try data.resample(SMOTENC(categoricalFeatures: [0, 1, 2])) }
    }

    @Test("SMOTE-N: each synthetic row is the per-feature mode of a sample and its value-difference neighbours")
    func smoten() throws {
        var g = SplitMix64(seed: 12)
        let n = 60
        let labels = (0..<n).map { $0 < 45 ? 0 : 1 }
        let features = (0..<(n * 3)).map { i -> Float in Float(g.nextIndex(below: labels[i / 3] == 0 ? 3 : 4)) }
        let data = LabelledData(features: features, labels: labels, columns: 3)
        let k = 4
        let result = try data.resample(SMOTEN(kNeighbors: k))
        #expect(result.classCounts == [0: 45, 1: 45])
        // Value difference metric by brute force.
        func share(_ c: Int, _ v: Float, _ label: Int) -> Double {
            let with = (0..<n).filter { features[$0 * 3 + c] == v }
            return Double(with.filter { labels[$0] == label }.count) / Double(with.count)
        }
        func delta(_ a: Int, _ b: Int) -> Double {
            (0..<3).reduce(0.0) { sum, c in
                let l1 = [0, 1].reduce(0.0) { $0 + abs(share(c, features[a * 3 + c], $1) - share(c, features[b * 3 + c], $1)) }
                return sum + l1 * l1
            }
        }
        let minority = (45..<n).map { $0 }
        let groups = minority.map { s in [s] + minority.filter { $0 != s }.sorted { (delta(s, $0), $0) < (delta(s, $1), $1) }.prefix(k) }
        let modes = Set(groups.map { group in (0..<3).map { c -> Float in
            let tally = Dictionary(grouping: group.map { features[$0 * 3 + c] }, by: { $0 }).mapValues(\.count)
            return tally.max { ($0.value, -$0.key) < ($1.value, -$1.key) }!.key
        } })
        for r in data.rows..<result.rows {
            #expect(modes.contains(Array(result.features[r * 3 ..< r * 3 + 3])), "row \(r)")
        }
    }

    @Test("k-means SMOTE: exact counts, rows between two minority samples, no qualifying cluster is an error")
    func kmeansSMOTE() throws {
        let data = LabelledData.blobs(sizes: [120, 30], columns: 2, separation: 3, seed: 8)
        let result = try data.resample(KMeansSMOTE(clusters: 4))
        #expect(result.classCounts == [0: 120, 1: 120])
        let minority = (0..<data.rows).filter { data.labels[$0] == 1 }
        for r in data.rows..<result.rows {
            let p = Array(result.features[r * 2 ..< r * 2 + 2])
            #expect(minority.contains { a in minority.contains { b in b != a && onSegment(p, data.row(a), data.row(b)) } }, "row \(r)")
        }
        #expect(throws: FulcrumError.self) { try data.resample(KMeansSMOTE(clusters: 4, clusterBalanceThreshold: 1.1)) }
        #expect(throws: FulcrumError.invalidParameter(argument: "clusterBalanceThreshold", value: "nan", requirement: "finite")) {
            try data.resample(KMeansSMOTE(clusters: 4, clusterBalanceThreshold: .nan))
        }
        // A negative exponent turned a cluster of duplicates into an infinite weight (a runtime trap).
        #expect(throws: FulcrumError.invalidParameter(argument: "densityExponent", value: "-1.0", requirement: "finite and >= 0")) {
            try data.resample(KMeansSMOTE(clusters: 4, densityExponent: -1))
        }
        // An exponent whose powers overflow a Double still gives exact counts.
        #expect(try data.resample(KMeansSMOTE(clusters: 4, densityExponent: 400)).classCounts == [0: 120, 1: 120])
    }

    @Test("k-means SMOTE: a huge finite density exponent still gives exact counts")
    func kmeansSMOTEHugeExponent() throws {
        // e·log(mean distance) overflowed to +∞ (mean distances above 1 here), ∞ − ∞ gave NaN
        // weights and the apportionment trapped.
        var data = LabelledData.blobs(sizes: [120, 30], columns: 2, separation: 3, seed: 8)
        data.features = data.features.map { $0 * 10 }
        #expect(try data.resample(KMeansSMOTE(clusters: 4, densityExponent: 1e308)).classCounts == [0: 120, 1: 120])
    }

    @Test("k-means SMOTE cluster weights: proportional to exp(log weight), overflow-free, equal when all are 0")
    func clusterWeights() {
        let w = normalisedWeights([Double.log(1), Double.log(3), -.infinity])
        #expect(abs(w[0] - 0.25) < 1e-15 && abs(w[1] - 0.75) < 1e-15 && w[2] == 0)
        #expect(normalisedWeights([1000, 1000]) == [0.5, 0.5])
        #expect(normalisedWeights([-.infinity, -.infinity]) == [0.5, 0.5])
    }

    @Test("cluster centroids: blob means (soft) or the member nearest to each (hard)")
    func clusterCentroids() throws {
        // Majority: three tight far-apart blobs of five points; minority: three points.
        var g = SplitMix64(seed: 13)
        var features: [Float] = [], labels: [Int] = []
        for centre: Float in [0, 100, 200] {
            for _ in 0..<5 { features += [centre + Float(g.nextUnit()), centre + Float(g.nextUnit())]; labels.append(0) }
        }
        features += [50, 50, 51, 50, 50, 51]
        labels += [1, 1, 1]
        let data = LabelledData(features: features, labels: labels, columns: 2)
        let soft = try data.resample(ClusterCentroids())
        #expect(soft.classCounts == [0: 3, 1: 3])
        #expect(Array(soft.features.prefix(6)) == [50, 50, 51, 50, 50, 51])
        var means: [[Float]] = []
        for blob in 0..<3 {
            means.append((0..<2).map { c in Float((0..<5).map { Double(features[(blob * 5 + $0) * 2 + c]) }.reduce(0, +) / 5) })
        }
        let centres = (0..<3).map { Array(soft.features[(3 + $0) * 2 ..< (4 + $0) * 2]) }
        #expect(Set(centres) == Set(means))
        let hard = try data.resample(ClusterCentroids(voting: .hard))
        let kept = try #require(hard.sampleIndices)
        #expect(kept.prefix(3) == [15, 16, 17])
        let expected = (0..<3).map { blob in
            (blob * 5 ..< blob * 5 + 5).min { (squaredDistance(data.row($0), means[blob]), $0) < (squaredDistance(data.row($1), means[blob]), $1) }!
        }
        #expect(Set(kept.suffix(3)) == Set(expected))
    }
}
