/// Lloyd's k-means with k-means++ seeding on the exact nearest-centre kernel: the clustering
/// under KMeansSMOTE and ClusterCentroids, and a building block for subclass clustering.
///
/// Seeding ("k-means++: The Advantages of Careful Seeding"): the first centre is a uniformly
/// drawn point; each next centre is point `x` with probability `D(x)² / Σ D²`, where `D(x)` is
/// the distance to the nearest centre chosen so far. Then Lloyd iterations: assign every point to
/// its nearest centre (`NearestNeighbors.assignNearest`, ties to the lower centre), move each
/// centre to the mean of its points (summed in Double, in point order). A cluster left empty is
/// re-seeded at the point farthest from its centre (ties to the lower index), as scikit-learn
/// does. Iteration stops when the assignment no longer changes, or when the squared centre shift
/// summed over centres is at most `tolerance × mean per-feature variance` (scikit-learn's `tol`),
/// or after `maxIterations`.
///
/// Deterministic: every random draw comes from `generator`, sums run in a fixed order, and the
/// assignment kernel is thread-count invariant, so a seed fixes the result bitwise.
public enum KMeans {
    /// A fitted clustering.
    public struct Result: Sendable, Equatable {
        /// `clusters × D` centres, row-major.
        public var centres: [Float]
        /// The cluster of each point, in `0..<clusters`.
        public var labels: [Int]
        /// Σ over points of the squared distance to their centre (Double).
        public var inertia: Double
        /// Lloyd iterations run.
        public var iterations: Int
    }

    /// Clusters the rows of `points` into `clusters` groups (squared Euclidean).
    ///
    /// - Parameters:
    ///   - points: `N × D`, finite.
    ///   - clusters: `1 ... N`.
    ///   - maxIterations: at least 1 (scikit-learn's default 300).
    ///   - tolerance: ≥ 0, relative to the mean per-feature variance (default 1e-4).
    ///   - generator: the caller's seeded generator (advanced by the seeding draws).
    /// - Complexity: `O(N·clusters·D)` per iteration and for the seeding.
    /// - Throws: `invalidParameter` naming `clusters`, `maxIterations` or `tolerance`;
    ///   `nonFiniteValue` naming `points`.
    public static func fit(
        _ points: MatrixView<Float>, clusters: Int, maxIterations: Int = 300, tolerance: Double = 1e-4,
        generator: inout some RandomNumberGenerator
    ) throws -> Result {
        let (n, d) = (points.rows, points.columns)
        guard clusters >= 1, clusters <= n else {
            throw FulcrumError.invalidParameter(argument: "clusters", value: "\(clusters)", requirement: "in 1...\(n) (the rows of points)")
        }
        guard maxIterations >= 1 else {
            throw FulcrumError.invalidParameter(argument: "maxIterations", value: "\(maxIterations)", requirement: ">= 1")
        }
        guard tolerance >= 0, tolerance.isFinite else {
            throw FulcrumError.invalidParameter(argument: "tolerance", value: "\(tolerance)", requirement: "finite and >= 0")
        }
        try checkFinite(points, argument: "points")
        var centres = seedCentres(points, clusters: clusters, generator: &generator)
        let threshold = tolerance * meanVariance(points)
        var labels = [Int](repeating: -1, count: n)
        var distances = [Float](repeating: 0, count: n)
        var iterations = 0
        while iterations < maxIterations {
            iterations += 1
            let assignment = try centres.withUnsafeBufferPointer { c in
                try NearestNeighbors.assignNearest(points: points, centres: MatrixView(unchecked: c.baseAddress, rows: clusters, columns: d, rowStride: d))
            }
            let changed = assignment.labels != labels
            (labels, distances) = assignment
            let previous = centres
            centres = updatedCentres(points, labels: labels, distances: distances, previous: previous, clusters: clusters)
            var shift = 0.0
            for e in 0..<centres.count { let t = Double(centres[e]) - Double(previous[e]); shift += t * t }
            if !changed || shift <= threshold { break }
        }
        // Final labels and inertia for the returned centres.
        let final = try centres.withUnsafeBufferPointer { c in
            try NearestNeighbors.assignNearest(points: points, centres: MatrixView(unchecked: c.baseAddress, rows: clusters, columns: d, rowStride: d))
        }
        let inertia = final.distances.reduce(0.0) { $0 + Double($1) }
        return Result(centres: centres, labels: final.labels, inertia: inertia, iterations: iterations)
    }

    /// k-means++ seeding: `clusters` rows of `points`, copied.
    static func seedCentres(_ points: MatrixView<Float>, clusters: Int, generator: inout some RandomNumberGenerator) -> [Float] {
        let (n, d) = (points.rows, points.columns)
        var centres = [Float]()
        centres.reserveCapacity(clusters * d)
        var nearest = [Double](repeating: .infinity, count: n)
        var chosen = generator.nextIndex(below: n)
        for _ in 0..<clusters {
            centres.append(contentsOf: UnsafeBufferPointer(start: points.row(chosen), count: d))
            let centre = UncheckedSendable(points.row(chosen))
            nearest.withUnsafeMutableBufferPointer { nearestBuffer in
                let out = UncheckedSendable(nearestBuffer.baseAddress!)
                Threads.forEachBlock(count: n, blockSize: 2048) { _, range in
                    for i in range {
                        let x = points.row(i)
                        var s = 0.0
                        for c in 0..<d { let t = Double(x[c]) - Double(centre.value[c]); s += t * t }
                        if s < out.value[i] { out.value[i] = s }
                    }
                }
            }
            let total = nearest.reduce(0, +)
            if total > 0 {
                let target = generator.nextUnit() * total
                var cumulative = 0.0
                chosen = n - 1
                for i in 0..<n {
                    cumulative += nearest[i]
                    if cumulative > target && nearest[i] > 0 { chosen = i; break }
                }
            } else {
                // Every point coincides with a centre: draw uniformly (duplicate centres).
                chosen = generator.nextIndex(below: n)
            }
        }
        return centres
    }

    /// Means of the assigned points; an empty cluster moves to the farthest unused point.
    static func updatedCentres(_ points: MatrixView<Float>, labels: [Int], distances: [Float], previous: [Float], clusters: Int) -> [Float] {
        let (n, d) = (points.rows, points.columns)
        var sums = [Double](repeating: 0, count: clusters * d)
        var counts = [Int](repeating: 0, count: clusters)
        for i in 0..<n {
            let (x, l) = (points.row(i), labels[i])
            counts[l] += 1
            for c in 0..<d { sums[l * d + c] += Double(x[c]) }
        }
        var centres = previous
        var farthest = counts.contains(0)
            ? (0..<n).sorted { distances[$0] > distances[$1] || (distances[$0] == distances[$1] && $0 < $1) }[...] : []
        for l in 0..<clusters {
            if counts[l] > 0 {
                for c in 0..<d { centres[l * d + c] = Float(sums[l * d + c] / Double(counts[l])) }
            } else if let i = farthest.popFirst() {
                for c in 0..<d { centres[l * d + c] = points[i, c] }
            }
        }
        return centres
    }

    /// Mean over features of the per-feature variance (scikit-learn's scale for `tol`).
    static func meanVariance(_ points: MatrixView<Float>) -> Double {
        let (n, d) = (points.rows, points.columns)
        guard n > 0, d > 0 else { return 0 }
        var total = 0.0
        for c in 0..<d {
            var mean = 0.0
            for i in 0..<n { mean += Double(points[i, c]) }
            mean /= Double(n)
            var v = 0.0
            for i in 0..<n { let t = Double(points[i, c]) - mean; v += t * t }
            total += v / Double(n)
        }
        return total / Double(d)
    }
}
