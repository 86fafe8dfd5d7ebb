import Testing
@testable import FulcrumKernels

@Suite("k-means on the nearest-centre kernel")
struct NeighborsKMeansTests {
    /// Three tight blobs around (0,0), (10,0), (0,10) with 50, 30 and 20 points.
    func blobs() -> (data: [Float], truth: [Int]) {
        var generator = SplitMix64(seed: 21)
        let centres: [(Float, Float)] = [(0, 0), (10, 0), (0, 10)]
        var data: [Float] = [], truth: [Int] = []
        for (c, size) in [(0, 50), (1, 30), (2, 20)] {
            for _ in 0..<size {
                data += [centres[c].0 + Float(generator.nextUnit() - 0.5), centres[c].1 + Float(generator.nextUnit() - 0.5)]
                truth.append(c)
            }
        }
        return (data, truth)
    }

    @Test("recovers separated blobs; the result is a Lloyd fixed point checked by brute force")
    func blobsRecovered() throws {
        let (data, truth) = blobs()
        var generator = SplitMix64(seed: 1)
        let result = try view(data, rows: 100, columns: 2) { try KMeans.fit($0, clusters: 3, generator: &generator) }
        // Same partition as the truth, up to relabelling.
        var mapping: [Int: Int] = [:]
        for (label, t) in zip(result.labels, truth) {
            if let m = mapping[label] { #expect(m == t) } else { mapping[label] = t }
        }
        #expect(Set(mapping.values).count == 3)
        // Each centre is the Double mean of its points (rounded to Float); each label is the nearest centre.
        for l in 0..<3 {
            let members = (0..<100).filter { result.labels[$0] == l }
            for c in 0..<2 {
                let mean = members.map { Double(data[$0 * 2 + c]) }.reduce(0, +) / Double(members.count)
                #expect(result.centres[l * 2 + c] == Float(mean))
            }
        }
        var inertia = 0.0
        for i in 0..<100 {
            let d = (0..<3).map { l in referenceDistance(Array(data[i * 2 ..< i * 2 + 2]), Array(result.centres[l * 2 ..< l * 2 + 2]), .squaredEuclidean) }
            #expect(result.labels[i] == d.firstIndex(of: d.min()!)!)
            inertia += d.min()!
        }
        #expect(abs(result.inertia - inertia) <= 1e-6 * inertia)
    }

    @Test("the same seed gives the same clustering; clusters = N puts every point alone")
    func seededAndExtremes() throws {
        let (data, _) = blobs()
        var g1 = SplitMix64(seed: 9), g2 = SplitMix64(seed: 9)
        let a = try view(data, rows: 100, columns: 2) { try KMeans.fit($0, clusters: 7, generator: &g1) }
        let b = try view(data, rows: 100, columns: 2) { try KMeans.fit($0, clusters: 7, generator: &g2) }
        #expect(a == b)
        var g3 = SplitMix64(seed: 3)
        let alone = try view(data, rows: 12, columns: 2) { try KMeans.fit($0, clusters: 12, generator: &g3) }
        #expect(Set(alone.labels).count == 12)
        #expect(alone.inertia == 0)
    }

    @Test("bad parameters throw naming the argument")
    func badParameters() throws {
        let (data, _) = blobs()
        var generator = SplitMix64(seed: 1)
        try view(data, rows: 100, columns: 2) { points in
            #expect(throws: FulcrumError.invalidParameter(argument: "clusters", value: "0", requirement: "in 1...100 (the rows of points)")) {
                try KMeans.fit(points, clusters: 0, generator: &generator)
            }
            #expect(throws: FulcrumError.invalidParameter(argument: "clusters", value: "101", requirement: "in 1...100 (the rows of points)")) {
                try KMeans.fit(points, clusters: 101, generator: &generator)
            }
            #expect(throws: FulcrumError.invalidParameter(argument: "maxIterations", value: "0", requirement: ">= 1")) {
                try KMeans.fit(points, clusters: 2, maxIterations: 0, generator: &generator)
            }
        }
    }
}
