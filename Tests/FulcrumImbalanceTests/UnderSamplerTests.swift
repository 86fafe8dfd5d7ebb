import Testing
import FulcrumKernels
@testable import FulcrumImbalance

@Suite("Under-samplers and cleaning")
struct UnderSamplerTests {
    let data = LabelledData.blobs(sizes: [80, 30, 20], columns: 3, separation: 1, seed: 5)

    func members(_ label: Int, in rows: [Int]? = nil) -> [Int] { (rows ?? Array(0..<data.rows)).filter { data.labels[$0] == label } }

    func expectKept(_ result: Resampled, _ kept: [Int], sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(result.sampleIndices == kept, sourceLocation: sourceLocation)
        #expect(result.labels == kept.map { data.labels[$0] }, sourceLocation: sourceLocation)
        #expect(result.features == kept.flatMap { data.row($0) }, sourceLocation: sourceLocation)
    }

    @Test("random under-sampling keeps distinct rows of each class, in order")
    func randomUnder() throws {
        let result = try data.resample(RandomUnderSampler())
        #expect(result.classCounts == [0: 20, 1: 20, 2: 20])
        let kept = try #require(result.sampleIndices)
        #expect(kept == kept.sorted() && Set(kept).count == 60)
        expectKept(result, kept)
        let counts = try data.resample(RandomUnderSampler(samplingStrategy: .counts([0: 5]), replacement: true))
        #expect(counts.classCounts == [0: 5, 1: 30, 2: 20])
        #expect(throws: FulcrumError.self) { try data.resample(RandomUnderSampler(samplingStrategy: .counts([2: 21]))) }
    }

    @Test("Tomek links on a hand-made line: (2, 2.1) is the only mutual nearest pair of different classes")
    func tomekByHand() throws {
        // class 0 at 0, 1, 2, 10; class 1 (minority) at 2.1, 5, 6.
        let line = LabelledData(features: [0, 1, 2, 10, 2.1, 5, 6], labels: [0, 0, 0, 0, 1, 1, 1], columns: 1)
        var g = SplitMix64(seed: 1)
        let auto = try line.withView { try TomekLinks().fitResample(features: $0, labels: line.labels, generator: &g) }
        #expect(auto.sampleIndices == [0, 1, 3, 4, 5, 6])
        let all = try line.withView { try TomekLinks(samplingStrategy: .all).fitResample(features: $0, labels: line.labels) }
        #expect(all.sampleIndices == [0, 1, 3, 5, 6])
    }

    @Test("Tomek links and ENN match brute force on overlapping blobs")
    func tomekAndENN() throws {
        let all = Array(0..<data.rows)
        let nearest = all.map { bruteNeighbors(data, of: $0, among: all, k: 1)[0] }
        let linked = all.filter { data.labels[nearest[$0]] != data.labels[$0] && nearest[nearest[$0]] == $0 }
        #expect(!linked.isEmpty)
        let tomek = try data.withView { try TomekLinks(samplingStrategy: .all).fitResample(features: $0, labels: data.labels) }
        expectKept(tomek, all.filter { !linked.contains($0) })
        for selection in [EditedNearestNeighbours.Selection.all, .mode] {
            let enn = try data.withView { try EditedNearestNeighbours(nNeighbors: 3, kindSelection: selection).fitResample(features: $0, labels: data.labels) }
            let kept = all.filter { i in
                guard data.labels[i] != 2 else { return true }  // minority 2 is not cleaned by .auto
                let around = bruteNeighbors(data, of: i, among: all, k: 3).map { data.labels[$0] }
                return selection == .all ? around.allSatisfy { $0 == data.labels[i] } : modeLabel(around) == data.labels[i]
            }
            expectKept(enn, kept)
        }
    }

    /// Brute-force ENN round on `rows` (cleaning every class but the current minority).
    func ennRound(_ rows: [Int], k: Int) -> [Int] {
        let counts = Dictionary(grouping: rows, by: { data.labels[$0] }).mapValues(\.count)
        let minority = counts.min { $0.value < $1.value || ($0.value == $1.value && $0.key < $1.key) }!.key
        return rows.filter { i in
            data.labels[i] == minority || bruteNeighbors(data, of: i, among: rows, k: k).allSatisfy { data.labels[$0] == data.labels[i] }
        }
    }

    @Test("RepeatedENN and AllKNN match a brute-force loop")
    func repeated() throws {
        var rows = Array(0..<data.rows)
        for _ in 0..<100 {
            let next = ennRound(rows, k: 3)
            let stop = next.count == rows.count || [0, 1].contains { members($0, in: next).count < 20 } || Set(next.map { data.labels[$0] }).count < 3
            rows = next
            if stop { break }
        }
        expectKept(try data.withView { try RepeatedEditedNearestNeighbours().fitResample(features: $0, labels: data.labels) }, rows)
        rows = Array(0..<data.rows)
        for k in 1...3 {
            rows = ennRound(rows, k: k)
            if [0, 1].contains(where: { members($0, in: rows).count < 20 }) { break }
        }
        expectKept(try data.withView { try AllKNN().fitResample(features: $0, labels: data.labels) }, rows)
    }

    @Test("NearMiss 1, 2 and 3 match brute force")
    func nearMiss() throws {
        let minority = members(2)
        func meanDistance(_ i: Int, farthest: Bool) -> Double {
            let sorted = minority.map { squaredDistance(data.row(i), data.row($0)).squareRoot() }.sorted()
            return (farthest ? sorted.suffix(3) : sorted.prefix(3)).reduce(0, +) / 3
        }
        for version in 1...3 {
            var kept = minority
            for label in [0, 1] {
                var candidates = members(label)
                if version == 3 {
                    candidates = Array(Set(minority.flatMap { m in
                        candidates.map { (squaredDistance(data.row(m), data.row($0)), $0) }.sorted { $0 < $1 }.prefix(3).map(\.1)
                    })).sorted()
                }
                let means = candidates.map { meanDistance($0, farthest: version == 2) }
                let order = candidates.indices.sorted {
                    version == 3 ? (means[$0], -$0) > (means[$1], -$1) : (means[$0], $0) < (means[$1], $1)
                }
                kept += order.prefix(20).map { candidates[$0] }
            }
            let result = try data.withView { try NearMiss(version: version).fitResample(features: $0, labels: data.labels) }
            #expect(result.sampleIndices == kept.sorted(), "version \(version)")
        }
        #expect(throws: FulcrumError.self) { try data.withView { try NearMiss(version: 4).fitResample(features: $0, labels: data.labels) } }
        #expect(throws: FulcrumError.self) { try data.withView { try NearMiss(nNeighbors: 21).fitResample(features: $0, labels: data.labels) } }
    }

    @Test("CNN and one-sided selection match a brute-force pass with the same seed draws")
    func condensed() throws {
        let minority = members(2)
        func nearestLabel(_ i: Int, _ store: [Int]) -> Int { data.labels[bruteNeighbors(data, of: i, among: store, k: 1)[0]] }
        var g = SplitMix64(seed: 7)
        var cnn = minority, oss = minority
        for label in [0, 1] {
            let rows = members(label)
            let seed = rows[g.nextIndex(below: rows.count)]
            var store = minority + [seed]
            cnn.append(seed)
            for i in rows where i != seed && nearestLabel(i, store) != label {
                store.append(i)
                cnn.append(i)
            }
        }
        #expect(try data.resample(CondensedNearestNeighbour(), seed: 7).sampleIndices == cnn.sorted())
        var h = SplitMix64(seed: 7)
        for label in [0, 1] {
            let rows = members(label)
            let seed = rows[h.nextIndex(below: rows.count)]
            oss.append(seed)
            oss += rows.filter { $0 != seed && nearestLabel($0, minority + [seed]) != label }
        }
        oss.sort()
        let nearest = oss.map { bruteNeighbors(data, of: $0, among: oss, k: 1)[0] }
        let position = Dictionary(uniqueKeysWithValues: oss.enumerated().map { ($1, $0) })
        let afterTomek = oss.enumerated().filter { p, i in
            let j = nearest[p]
            return !(data.labels[i] != 2 && data.labels[j] != data.labels[i] && nearest[position[j]!] == i)
        }.map(\.1)
        #expect(try data.resample(OneSidedSelection(), seed: 7).sampleIndices == afterTomek)
    }

    @Test("neighbourhood cleaning rule matches brute force")
    func ncr() throws {
        let all = Array(0..<data.rows)
        var removed = Set(all.filter { i in
            data.labels[i] != 2 && modeLabel(bruteNeighbors(data, of: i, among: all, k: 3).map { data.labels[$0] }) != data.labels[i]
        })
        for m in members(2) {
            let around = bruteNeighbors(data, of: m, among: all, k: 3)
            if modeLabel(around.map { data.labels[$0] }) != 2 {
                for j in around where data.labels[j] != 2 { removed.insert(j) }  // classes 0 (80) and 1 (30) exceed 0.5 · 20
            }
        }
        let result = try data.withView { try NeighbourhoodCleaningRule().fitResample(features: $0, labels: data.labels) }
        expectKept(result, all.filter { !removed.contains($0) })
    }

    @Test("SMOTEENN and SMOTETomek are SMOTE followed by the cleaner on every class")
    func combined() throws {
        let over = try data.resample(SMOTE(kNeighbors: 3))
        let enn = try over.withFeatures { try EditedNearestNeighbours(samplingStrategy: .all).fitResample(features: $0, labels: over.labels) }
        var expected = enn
        expected.sampleIndices = nil
        #expect(try data.resample(SMOTEENN(smote: SMOTE(kNeighbors: 3))) == expected)
        let tomek = try over.withFeatures { try TomekLinks(samplingStrategy: .all).fitResample(features: $0, labels: over.labels) }
        expected = tomek
        expected.sampleIndices = nil
        #expect(try data.resample(SMOTETomek(smote: SMOTE(kNeighbors: 3))) == expected)
    }
}
