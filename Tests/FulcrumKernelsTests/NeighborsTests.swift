import Testing
@testable import FulcrumKernels

/// Brute-force Double reference: every distance, sorted by (distance, index).
func referenceNeighbors(
    queries: [Float], base: [Float], columns d: Int, metric: NearestNeighbors.Metric, excludeSelf: Bool
) -> [[(distance: Double, index: Int)]] {
    let m = queries.count / max(d, 1), n = base.count / max(d, 1)
    return (0..<m).map { i in
        var all: [(distance: Double, index: Int)] = []
        for j in 0..<n where !(excludeSelf && i == j) {
            all.append((referenceDistance(Array(queries[i * d ..< (i + 1) * d]), Array(base[j * d ..< (j + 1) * d]), metric), j))
        }
        return all.sorted { $0.distance < $1.distance || ($0.distance == $1.distance && $0.index < $1.index) }
    }
}

func referenceDistance(_ x: [Float], _ y: [Float], _ metric: NearestNeighbors.Metric) -> Double {
    let (a, b) = (x.map(Double.init), y.map(Double.init))
    switch metric {
    case .squaredEuclidean: return zip(a, b).map { ($0 - $1) * ($0 - $1) }.reduce(0, +)
    case .innerProduct: return -zip(a, b).map { $0 * $1 }.reduce(0, +)
    case .cosine:
        let (aa, bb) = (a.map { $0 * $0 }.reduce(0, +), b.map { $0 * $0 }.reduce(0, +))
        guard aa > 0, bb > 0 else { return 1 }
        return 1 - zip(a, b).map { $0 * $1 }.reduce(0, +) / (aa.squareRoot() * bb.squareRoot())
    }
}

/// Checks a kernel answer against the reference: position by position the same index, except
/// where the reference distances tie within `tieTolerance` relative; distances within 1e-6
/// relative of the exact distance of the returned pair; no repeated index; self never listed.
func expectMatchesReference(
    _ table: NearestNeighbors.Table, _ reference: [[(distance: Double, index: Int)]],
    queries: [Float], base: [Float], columns d: Int, metric: NearestNeighbors.Metric, excludeSelf: Bool,
    tieTolerance: Double = 1e-6, sourceLocation: SourceLocation = #_sourceLocation
) {
    let scale = reference.flatMap { $0.map { abs($0.distance) } }.max() ?? 1
    for i in 0..<table.rows {
        let got = Array(table.neighbors(of: i)), gotDistances = Array(table.distances(of: i))
        #expect(Set(got).count == got.count, "row \(i) lists an index twice", sourceLocation: sourceLocation)
        if excludeSelf { #expect(!got.contains(i), "row \(i) lists itself", sourceLocation: sourceLocation) }
        for e in 0..<table.k {
            let j = got[e]
            let exact = referenceDistance(Array(queries[i * d ..< (i + 1) * d]), Array(base[j * d ..< (j + 1) * d]), metric)
            let expected = reference[i][e]
            if j != expected.index {
                let gap = abs(exact - expected.distance)
                #expect(gap <= tieTolerance * max(abs(expected.distance), 1e-30 * scale),
                        "row \(i) position \(e): got \(j) at \(exact), reference \(expected.index) at \(expected.distance)",
                        sourceLocation: sourceLocation)
            }
            #expect(abs(Double(gotDistances[e]) - exact) <= 1e-6 * max(abs(exact), 1e-30 * scale),
                    "row \(i) position \(e): distance \(gotDistances[e]) vs exact \(exact)", sourceLocation: sourceLocation)
        }
    }
}

/// Uniform data in [−1, 1) with some rows duplicated exactly.
func randomPoints(rows: Int, columns: Int, seed: UInt64, duplicates: Int = 0) -> [Float] {
    var generator = SplitMix64(seed: seed)
    var data = (0..<(rows * columns)).map { _ in Float(generator.nextUnit() * 2 - 1) }
    for _ in 0..<duplicates {
        let (from, to) = (generator.nextIndex(below: rows), generator.nextIndex(below: rows))
        for c in 0..<columns { data[to * columns + c] = data[from * columns + c] }
    }
    return data
}

func view<R>(_ data: [Float], rows: Int, columns: Int, _ body: (MatrixView<Float>) throws -> R) rethrows -> R {
    try data.withUnsafeBufferPointer { try body(MatrixView(unchecked: $0.baseAddress, rows: rows, columns: columns, rowStride: columns)) }
}

@Suite("Exact k-nearest neighbours")
struct NeighborsTests {
    @Test("self search matches brute force: duplicates, D = 37, every metric", arguments: NearestNeighbors.Metric.allCases)
    func selfSearch(metric: NearestNeighbors.Metric) throws {
        let (n, d, k) = (300, 37, 7)
        let data = randomPoints(rows: n, columns: d, seed: 1, duplicates: 40)
        try view(data, rows: n, columns: d) { points in
            let table = try NearestNeighbors.searchSelf(points, k: k, metric: metric)
            let reference = referenceNeighbors(queries: data, base: data, columns: d, metric: metric, excludeSelf: true)
            expectMatchesReference(table, reference, queries: data, base: data, columns: d, metric: metric, excludeSelf: true)
        }
    }

    @Test("query-vs-base with M ≠ N and k = N matches brute force", arguments: NearestNeighbors.Metric.allCases)
    func queryVersusBase(metric: NearestNeighbors.Metric) throws {
        let (m, n, d) = (101, 53, 9)
        let queries = randomPoints(rows: m, columns: d, seed: 2)
        let base = randomPoints(rows: n, columns: d, seed: 3, duplicates: 5)
        try view(queries, rows: m, columns: d) { q in
            try view(base, rows: n, columns: d) { b in
                for k in [1, 3, n] {
                    let table = try NearestNeighbors.search(queries: q, base: b, k: k, metric: metric)
                    let reference = referenceNeighbors(queries: queries, base: base, columns: d, metric: metric, excludeSelf: false)
                    expectMatchesReference(table, reference, queries: queries, base: base, columns: d, metric: metric, excludeSelf: false)
                }
            }
        }
    }

    @Test("k = N − 1 lists every other row, in exact order")
    func everyOtherRow() throws {
        let (n, d) = (50, 16)
        let data = randomPoints(rows: n, columns: d, seed: 4)
        try view(data, rows: n, columns: d) { points in
            let table = try NearestNeighbors.searchSelf(points, k: n - 1)
            let reference = referenceNeighbors(queries: data, base: data, columns: d, metric: .squaredEuclidean, excludeSelf: true)
            expectMatchesReference(table, reference, queries: data, base: data, columns: d, metric: .squaredEuclidean, excludeSelf: true)
            for i in 0..<n { #expect(Set(table.neighbors(of: i)) == Set((0..<n).filter { $0 != i })) }
        }
    }

    @Test("D = 1 small integers: exact ties broken by lower index at every k")
    func integerTies() throws {
        let n = 200
        var generator = SplitMix64(seed: 5)
        let data = (0..<n).map { _ in Float(generator.nextIndex(below: 10)) }
        try view(data, rows: n, columns: 1) { points in
            for k in [1, 5, 30, 199] {
                let table = try NearestNeighbors.searchSelf(points, k: k)
                let reference = referenceNeighbors(queries: data, base: data, columns: 1, metric: .squaredEuclidean, excludeSelf: true)
                for i in 0..<n {
                    #expect(Array(table.neighbors(of: i)) == reference[i].prefix(k).map(\.index), "row \(i), k = \(k)")
                    #expect(Array(table.distances(of: i)) == reference[i].prefix(k).map { Float($0.distance) })
                }
            }
        }
    }

    @Test("exact duplicates are each other's nearest neighbours at distance 0")
    func duplicatesAreNeighbours() throws {
        var data = randomPoints(rows: 40, columns: 5, seed: 6)
        for c in 0..<5 { data[7 * 5 + c] = data[3 * 5 + c] }
        try view(data, rows: 40, columns: 5) { points in
            let table = try NearestNeighbors.searchSelf(points, k: 1)
            #expect(table.neighbors(of: 3).first == 7 && table.distances(of: 3).first == 0)
            #expect(table.neighbors(of: 7).first == 3 && table.distances(of: 7).first == 0)
        }
    }

    @Test("huge and tiny magnitudes: exact neighbours, overflowing distances reported as +inf")
    func extremeMagnitudes() throws {
        for magnitude: Float in [1e30, 1e-30] {
            let (n, d) = (60, 11)
            let data = randomPoints(rows: n, columns: d, seed: 7, duplicates: 3).map { $0 * magnitude }
            try view(data, rows: n, columns: d) { points in
                let table = try NearestNeighbors.searchSelf(points, k: 4)
                let reference = referenceNeighbors(queries: data, base: data, columns: d, metric: .squaredEuclidean, excludeSelf: true)
                for i in 0..<n {
                    #expect(Array(table.neighbors(of: i)) == reference[i].prefix(4).map(\.index), "row \(i)")
                    #expect(Array(table.distances(of: i)) == reference[i].prefix(4).map { Float($0.distance) })
                }
                if magnitude > 1 { #expect(table.distances.contains(.infinity)) }
            }
        }
    }

    @Test("bad input throws an error naming the argument")
    func badInput() throws {
        let data = randomPoints(rows: 10, columns: 3, seed: 8)
        try view(data, rows: 10, columns: 3) { points in
            #expect(throws: FulcrumError.invalidParameter(argument: "k", value: "10", requirement: "in 1...9 (the candidate rows of points)")) {
                try NearestNeighbors.searchSelf(points, k: 10)
            }
            #expect(throws: FulcrumError.invalidParameter(argument: "k", value: "0", requirement: "in 1...10 (the candidate rows of base)")) {
                try NearestNeighbors.search(queries: points, base: points, k: 0)
            }
            #expect(throws: FulcrumError.self) { try NearestNeighbors.searchSelf(points.rows(0..<1), k: 1) }
            var wrong = [Int](repeating: 0, count: 10 * 2), wrongDistances = [Float](repeating: 0, count: 10 * 3)
            try wrong.withUnsafeMutableBufferPointer { i in
                try wrongDistances.withUnsafeMutableBufferPointer { dd in
                    #expect(throws: FulcrumError.shapeMismatch(argument: "indices", expected: "10x3", actual: "10x2")) {
                        try NearestNeighbors.searchSelf(points, k: 3,
                            indices: MutableMatrixView(i, rows: 10, columns: 2), distances: MutableMatrixView(dd, rows: 10, columns: 3))
                    }
                }
            }
        }
        // No feature: every distance would be 0 and the "neighbours" the index order.
        let featureless = MatrixView<Float>(unchecked: nil, rows: 10, columns: 0, rowStride: 0)
        #expect(throws: FulcrumError.shapeMismatch(argument: "points", expected: "at least 1 column (feature)", actual: "10x0")) {
            try NearestNeighbors.searchSelf(featureless, k: 2)
        }
        #expect(throws: FulcrumError.shapeMismatch(argument: "base", expected: "at least 1 column (feature)", actual: "10x0")) {
            try NearestNeighbors.search(queries: featureless, base: featureless, k: 1)
        }
        try view(data, rows: 5, columns: 2) { other in
            try view(data, rows: 10, columns: 3) { points in
                #expect(throws: FulcrumError.shapeMismatch(argument: "queries columns", expected: "3", actual: "2")) {
                    try NearestNeighbors.search(queries: other, base: points, k: 1)
                }
            }
        }
        for bad in [Float.nan, .infinity, -.infinity] {
            var poisoned = data
            poisoned[4 * 3 + 2] = bad
            try view(poisoned, rows: 10, columns: 3) { points in
                #expect(throws: FulcrumError.nonFiniteValue(argument: "points", row: 4, column: 2)) {
                    try NearestNeighbors.searchSelf(points, k: 2)
                }
                try view(data, rows: 10, columns: 3) { clean in
                    #expect(throws: FulcrumError.nonFiniteValue(argument: "queries", row: 4, column: 2)) {
                        try NearestNeighbors.search(queries: points, base: clean, k: 2)
                    }
                }
            }
        }
    }

    @Test("the first non-finite element over several row chunks is the first in row-major order")
    func firstNonFiniteAcrossChunks() throws {
        // 10000 rows span three 4096-row chunks; the later chunk's ±inf must not win over the
        // earlier chunk's NaN, nor a later column of the same row over an earlier one.
        var data = [Float](repeating: 1, count: 10000 * 5)
        data[9000 * 5 + 0] = .infinity
        data[7000 * 5 + 4] = -.infinity
        data[7000 * 5 + 3] = .nan
        try view(data, rows: 10000, columns: 5) { points in
            let first = points.firstNonFinite(), later = points.rows(7001..<10000).firstNonFinite()
            #expect(first?.row == 7000 && first?.column == 3)
            #expect(later?.row == 1999 && later?.column == 0)
            #expect(points.rows(0..<7000).firstNonFinite() == nil)
        }
    }

    @Test("nearest-centre assignment matches brute force")
    func assignment() throws {
        let points = randomPoints(rows: 500, columns: 6, seed: 9)
        let centres = randomPoints(rows: 12, columns: 6, seed: 10)
        try view(points, rows: 500, columns: 6) { p in
            try view(centres, rows: 12, columns: 6) { c in
                let (labels, distances) = try NearestNeighbors.assignNearest(points: p, centres: c)
                let reference = referenceNeighbors(queries: points, base: centres, columns: 6, metric: .squaredEuclidean, excludeSelf: false)
                for i in 0..<500 {
                    #expect(labels[i] == reference[i][0].index)
                    #expect(abs(Double(distances[i]) - reference[i][0].distance) <= 1e-6 * reference[i][0].distance)
                }
            }
        }
    }
}

@Suite("Exact k-nearest neighbours: thread count", .serialized)
struct NeighborsThreadTests {
    /// The self search schedules 4 blocks of tiles per worker (at most one per tile), so each
    /// count runs another schedule: 4, 8 and 12 blocks of the 12 tiles, claimed in pairs by the
    /// workers in whatever order they get to them.
    @Test("bitwise identical with 1, 2 and 4 threads")
    func threadCountInvariance() throws {
        let (n, d, k) = (1100, 20, 6)
        let data = randomPoints(rows: n, columns: d, seed: 11, duplicates: 50)
        let saved = Threads.count
        defer { try? Threads.setCount(saved) }
        var results: [NearestNeighbors.Table] = []
        var queryResults: [NearestNeighbors.Table] = []
        for threads in [1, 2, 4] {
            try Threads.setCount(threads)
            try view(data, rows: n, columns: d) { points in
                results.append(try NearestNeighbors.searchSelf(points, k: k))
                queryResults.append(try NearestNeighbors.search(queries: points.rows(0..<700), base: points, k: k, metric: .cosine))
            }
        }
        #expect(results[0] == results[1] && results[0] == results[2])
        let reference = referenceNeighbors(queries: data, base: data, columns: d, metric: .squaredEuclidean, excludeSelf: true)
        expectMatchesReference(results[1], reference, queries: data, base: data, columns: d, metric: .squaredEuclidean, excludeSelf: true)
        #expect(queryResults[0] == queryResults[1] && queryResults[0] == queryResults[2])
        var g1 = SplitMix64(seed: 4), g2 = SplitMix64(seed: 4)
        try Threads.setCount(1)
        let one = try view(data, rows: n, columns: d) { try KMeans.fit($0, clusters: 9, generator: &g1) }
        try Threads.setCount(2)
        let two = try view(data, rows: n, columns: d) { try KMeans.fit($0, clusters: 9, generator: &g2) }
        #expect(one == two)
    }
}
