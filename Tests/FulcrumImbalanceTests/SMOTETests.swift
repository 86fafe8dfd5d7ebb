import Testing
import FulcrumKernels
@testable import FulcrumImbalance

@Suite("SMOTE")
struct SMOTETests {
    @Test("every synthetic row lies between its seed and one of the seed's k class neighbours; counts match")
    func segments() throws {
        let data = LabelledData.blobs(sizes: [60, 15, 9], columns: 3)
        let result = try data.resample(SMOTE(kNeighbors: 4))
        #expect(result.classCounts == [0: 60, 1: 60, 2: 60])
        #expect(Array(result.features.prefix(data.features.count)) == data.features)
        #expect(Array(result.labels.prefix(data.rows)) == data.labels)
        let members = [1: (0..<data.rows).filter { data.labels[$0] == 1 }, 2: (0..<data.rows).filter { data.labels[$0] == 2 }]
        for r in data.rows..<result.rows {
            let label = result.labels[r]
            let point = Array(result.features[r * 3 ..< (r + 1) * 3])
            let found = members[label]!.contains { s in
                bruteNeighbors(data, of: s, among: members[label]!, k: 4).contains { onSegment(point, data.row(s), data.row($0)) }
            }
            #expect(found, "synthetic row \(r) of class \(label) is on no seed-neighbour segment")
        }
        // Synthetic rows come class by class in ascending label order.
        #expect(Array(result.labels[data.rows...]) == Array(repeating: 1, count: 45) + Array(repeating: 2, count: 51))
    }

    @Test("strategies: ratio, counts, minority")
    func strategies() throws {
        let data = LabelledData.blobs(sizes: [40, 10, 12], columns: 2)
        #expect(try data.resample(SMOTE(samplingStrategy: .minority, kNeighbors: 3)).classCounts == [0: 40, 1: 40, 2: 12])
        #expect(try data.resample(SMOTE(samplingStrategy: .counts([2: 30]), kNeighbors: 3)).classCounts == [0: 40, 1: 10, 2: 30])
        let binary = LabelledData.blobs(sizes: [40, 10], columns: 2)
        // ratio 0.5: minority target ⌊0.5 · 40⌋ = 20.
        #expect(try binary.resample(SMOTE(samplingStrategy: .ratio(0.5), kNeighbors: 3)).classCounts == [0: 40, 1: 20])
    }

    @Test("bad input throws errors naming the argument")
    func badInput() throws {
        let data = LabelledData.blobs(sizes: [30, 4], columns: 2)
        #expect(throws: FulcrumError.invalidParameter(
            argument: "kNeighbors", value: "5",
            requirement: "smaller than the size of class 1, which has 4 samples (a sample is not its own neighbour)")) {
            try data.resample(SMOTE())
        }
        var short = data
        short.labels.removeLast()
        #expect(throws: FulcrumError.shapeMismatch(argument: "labels", expected: "34", actual: "33")) { try short.resample(SMOTE(kNeighbors: 2)) }
        var single = data
        single.labels = Array(repeating: 3, count: data.rows)
        #expect(throws: FulcrumError.invalidParameter(argument: "labels", value: "1 class", requirement: "at least 2 classes to resample")) {
            try single.resample(SMOTE(kNeighbors: 2))
        }
        var generator = SplitMix64(seed: 1)
        #expect(throws: FulcrumError.shapeMismatch(argument: "features", expected: "at least 1 column (feature)", actual: "34x0")) {
            try SMOTE(kNeighbors: 2).fitResample(features: MatrixView(unchecked: nil, rows: 34, columns: 0, rowStride: 0),
                                                 labels: data.labels, generator: &generator)
        }
        for bad in [Float.nan, .infinity] {
            var poisoned = data
            poisoned.features[5 * 2 + 1] = bad
            #expect(throws: FulcrumError.nonFiniteValue(argument: "features", row: 5, column: 1)) { try poisoned.resample(SMOTE(kNeighbors: 2)) }
        }
        // SMOTE checks the minority rows when its neighbour search reads them and the rest while
        // copying them to the output: either way the first non-finite value in row-major order
        // is named.
        var minorityPoisoned = data
        minorityPoisoned.features[31 * 2] = -.infinity
        #expect(throws: FulcrumError.nonFiniteValue(argument: "features", row: 31, column: 0)) { try minorityPoisoned.resample(SMOTE(kNeighbors: 2)) }
        minorityPoisoned.features[12 * 2 + 1] = .nan
        #expect(throws: FulcrumError.nonFiniteValue(argument: "features", row: 12, column: 1)) { try minorityPoisoned.resample(SMOTE(kNeighbors: 2)) }
        var lastPoisoned = data
        lastPoisoned.features[29 * 2 + 1] = .nan
        #expect(throws: FulcrumError.nonFiniteValue(argument: "features", row: 29, column: 1)) { try lastPoisoned.resample(SMOTE(kNeighbors: 2)) }
        #expect(throws: FulcrumError.self) { try data.resample(SMOTE(samplingStrategy: .counts([1: 2]), kNeighbors: 2)) }
        #expect(throws: FulcrumError.emptyReduction(argument: "samplingStrategy", reason: "class 9 has no sample in labels")) {
            try data.resample(SMOTE(samplingStrategy: .counts([9: 40]), kNeighbors: 2))
        }
        #expect(throws: FulcrumError.self) { try data.resample(SMOTE(samplingStrategy: .ratio(1.5), kNeighbors: 2)) }
        #expect(throws: FulcrumError.self) { try data.resample(SMOTE(samplingStrategy: .majority, kNeighbors: 2)) }
    }

    @Test("non-finite values in later blocks of the output copy: the first in row-major order is named")
    func nonFiniteInLaterCopyBlocks() throws {
        // 64 features: the originals are copied and checked in blocks of 512 rows.
        var data = LabelledData.blobs(sizes: [1800, 200], columns: 64)
        data.features[1700 * 64 + 3] = .nan
        #expect(throws: FulcrumError.nonFiniteValue(argument: "features", row: 1700, column: 3)) { try data.resample(SMOTE(kNeighbors: 3)) }
        data.features[1100 * 64 + 63] = .infinity
        #expect(throws: FulcrumError.nonFiniteValue(argument: "features", row: 1100, column: 63)) { try data.resample(SMOTE(kNeighbors: 3)) }
        data.features[1900 * 64] = .nan  // a minority row, read first by the neighbour search
        #expect(throws: FulcrumError.nonFiniteValue(argument: "features", row: 1100, column: 63)) { try data.resample(SMOTE(kNeighbors: 3)) }
    }

    @Test("exact duplicates: a duplicated seed interpolates towards its twin")
    func duplicates() throws {
        // Class 1: three copies of (1, 1) and one (5, 5): with k = 1 every copy's neighbour is another copy.
        let data = LabelledData(features: [0, 0, 0, 1, 1, 0, 2, 2, 1, 1, 1, 1, 1, 1, 5, 5], labels: [0, 0, 0, 0, 1, 1, 1, 1], columns: 2)
        let result = try data.resample(SMOTE(samplingStrategy: .counts([1: 40]), kNeighbors: 1))
        for r in data.rows..<result.rows {
            let p = Array(result.features[r * 2 ..< r * 2 + 2])
            // Either a copy (seed and neighbour both (1, 1)) or on the segment (5,5)–(1,1).
            #expect(p == [1, 1] || onSegment(p, [5, 5], [1, 1]))
        }
    }
}

@Suite("Samplers: thread count", .serialized)
struct SamplerThreadTests {
    @Test("SMOTE, ADASYN, Borderline-SMOTE, k-means SMOTE, cluster centroids, NearMiss, SMOTEENN: bitwise identical with 1 and 2 threads")
    func threadInvariance() throws {
        let data = LabelledData.blobs(sizes: [3000, 700, 400], columns: 7, separation: 0.5)
        let saved = Threads.count
        defer { try? Threads.setCount(saved) }
        var outputs: [[Resampled]] = []
        for threads in [1, 2] {
            try Threads.setCount(threads)
            outputs.append([
                try data.resample(SMOTE()), try data.resample(ADASYN()), try data.resample(BorderlineSMOTE(kind: .borderline2)),
                try data.resample(KMeansSMOTE(clusters: 5)), try data.resample(ClusterCentroids()),
                try data.resample(NearMiss(version: 2)), try data.resample(SMOTEENN()),
            ])
        }
        #expect(outputs[0] == outputs[1])
    }
}
