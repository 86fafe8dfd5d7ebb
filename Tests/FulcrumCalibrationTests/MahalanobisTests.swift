import Testing
import FulcrumKernels
@testable import FulcrumCalibration

@Suite("Mahalanobis detector")
struct MahalanobisTests {
    /// Gauss-Jordan inverse of a small symmetric positive-definite matrix, in Double.
    static func inverse(_ a: [Double], _ d: Int) -> [Double] {
        var m = a, inv = [Double](repeating: 0, count: d * d)
        for i in 0..<d { inv[i * d + i] = 1 }
        for col in 0..<d {
            let pivot = (col..<d).max { abs(m[$0 * d + col]) < abs(m[$1 * d + col]) }!
            for j in 0..<d { m.swapAt(col * d + j, pivot * d + j); inv.swapAt(col * d + j, pivot * d + j) }
            let p = m[col * d + col]
            for j in 0..<d { m[col * d + j] /= p; inv[col * d + j] /= p }
            for r in 0..<d where r != col {
                let f = m[r * d + col]
                for j in 0..<d { m[r * d + j] -= f * m[col * d + j]; inv[r * d + j] -= f * inv[col * d + j] }
            }
        }
        return inv
    }

    /// Correlated Gaussian-ish features around per-class centres.
    static func features(_ n: Int, _ d: Int, _ c: Int, seed: UInt64) -> ([Float], [Int32]) {
        var g = TestGenerator(seed: seed)
        var x: [Float] = [], y: [Int32] = []
        for i in 0..<n {
            let label = i % c
            var previous = 0.0
            for j in 0..<d {
                let noise = (g.unit() + g.unit() + g.unit() - 1.5) * 2
                previous = 0.6 * previous + noise
                x.append(Float(Double(label * (j % 3 == 0 ? 2 : -1)) + previous + Double(j) * 0.1))
            }
            y.append(Int32(label))
        }
        return (x, y)
    }

    @Test func matchesDirectDoubleInverse() throws {
        let (n, d, c) = (400, 6, 3)
        let (x, y) = Self.features(n, d, c, seed: 1)
        let detector = try withMatrix(x, rows: n, columns: d) { m in
            try y.withUnsafeBufferPointer { try MahalanobisDetector(features: m, labels: $0, classCount: c) }
        }
        #expect(detector.ridge == 0)
        // Means and covariance from their definitions.
        var mu = [Double](repeating: 0, count: c * d), count = [Double](repeating: 0, count: c)
        for i in 0..<n { count[Int(y[i])] += 1; for j in 0..<d { mu[Int(y[i]) * d + j] += Double(x[i * d + j]) } }
        for k in 0..<c { for j in 0..<d { mu[k * d + j] /= count[k] } }
        var sigma = [Double](repeating: 0, count: d * d)
        for i in 0..<n {
            for a in 0..<d { for b in 0..<d {
                sigma[a * d + b] += (Double(x[i * d + a]) - mu[Int(y[i]) * d + a]) * (Double(x[i * d + b]) - mu[Int(y[i]) * d + b]) / Double(n)
            } }
        }
        #expect(zip(detector.means, mu).allSatisfy { close($0, $1, 1e-12) })
        #expect(zip(detector.covariance, sigma).allSatisfy { close($0, $1, 1e-10) })
        // Scores of fresh samples (some far away) against −min_c (x−μ_c)ᵀΣ⁻¹(x−μ_c).
        let precision = Self.inverse(sigma, d)
        var (test, _) = Self.features(50, d, c, seed: 2)
        for j in 0..<(10 * d) { test[j] += 25 }  // ten out-of-distribution rows
        var scores = [Float](repeating: 0, count: 50)
        var predicted = [Int32](repeating: 0, count: 50)
        try withMatrix(test, rows: 50, columns: d) { m in
            try scores.withUnsafeMutableBufferPointer { s in
                try predicted.withUnsafeMutableBufferPointer { try detector.scores(m, into: s, predictedClasses: $0) }
            }
        }
        for i in 0..<50 {
            var best = -Double.infinity, bestClass = 0
            for k in 0..<c {
                let diff = (0..<d).map { Double(test[i * d + $0]) - mu[k * d + $0] }
                var q = 0.0
                for a in 0..<d { for b in 0..<d { q += diff[a] * precision[a * d + b] * diff[b] } }
                if -q > best { (best, bestClass) = (-q, k) }
            }
            #expect(abs(Double(scores[i]) - best) <= 1e-4 * max(1, abs(best)), "row \(i): \(scores[i]) vs \(best)")
            #expect(predicted[i] == Int32(bestClass))
        }
        // The shifted rows score far below the in-distribution ones.
        #expect(scores[..<10].max()! < scores[10...].min()!)
    }

    @Test func fewerSamplesThanFeaturesReportsRidge() throws {
        let (n, d, c) = (5, 12, 2)
        let (x, y) = Self.features(n, d, c, seed: 3)
        let detector = try withMatrix(x, rows: n, columns: d) { m in
            try y.withUnsafeBufferPointer { try MahalanobisDetector(features: m, labels: $0, classCount: c) }
        }
        // Σ has rank ≤ n − C = 3 < 12: a ridge is needed and Σ + εI is positive definite.
        #expect(detector.ridge > 0)
        var shifted = detector.covariance
        for j in 0..<d { shifted[j * d + j] += detector.ridge }
        var values = [Double](repeating: 0, count: d)
        try shifted.withUnsafeMutableBufferPointer { a in
            try values.withUnsafeMutableBufferPointer {
                try LAPACK.symmetricEigen(MutableMatrixView(unchecked: a.baseAddress, rows: d, columns: d, rowStride: d), eigenvalues: $0, vectors: false)
            }
        }
        #expect(values[0] > 0)
        // Smallest: the ridge exceeds −λ_min(Σ) by at most a tiny fraction of the scale.
        let trace = (0..<d).reduce(0.0) { $0 + detector.covariance[$1 * d + $1] }
        #expect(detector.ridge <= max(0, -values[0] + detector.ridge) + 1e-6 * trace)
        var scores = [Float](repeating: 0, count: n)
        try withMatrix(x, rows: n, columns: d) { m in try scores.withUnsafeMutableBufferPointer { try detector.scores(m, into: $0) } }
        #expect(scores.allSatisfy { $0.isFinite && $0 <= 0 })
    }

    @Test func ensembleWeighsLayers() throws {
        let (n, c) = (120, 2)
        let (a, y) = Self.features(n, 3, c, seed: 4)
        let (b, _) = Self.features(n, 5, c, seed: 5)
        let da = try withMatrix(a, rows: n, columns: 3) { m in try y.withUnsafeBufferPointer { try MahalanobisDetector(features: m, labels: $0, classCount: c) } }
        let db = try withMatrix(b, rows: n, columns: 5) { m in try y.withUnsafeBufferPointer { try MahalanobisDetector(features: m, labels: $0, classCount: c) } }
        let ensemble = try MahalanobisEnsemble(detectors: [da, db], weights: [0.25, 2])
        var (sa, sb, combined) = ([Float](repeating: 0, count: n), [Float](repeating: 0, count: n), [Float](repeating: 0, count: n))
        try withMatrix(a, rows: n, columns: 3) { ma in
            try withMatrix(b, rows: n, columns: 5) { mb in
                try sa.withUnsafeMutableBufferPointer { try da.scores(ma, into: $0) }
                try sb.withUnsafeMutableBufferPointer { try db.scores(mb, into: $0) }
                try combined.withUnsafeMutableBufferPointer { try ensemble.scores(layers: [ma, mb], into: $0) }
            }
        }
        for i in 0..<n { #expect(close(Double(combined[i]), 0.25 * Double(sa[i]) + 2 * Double(sb[i]), 1e-6)) }
        #expect(throws: FulcrumError.shapeMismatch(argument: "weights", expected: "2", actual: "1")) { try MahalanobisEnsemble(detectors: [da, db], weights: [1]) }
    }

    /// ‖W·x‖² overflows Float for a sample far beyond the fitted scale; ∞ − ∞ made its distance
    /// NaN, which max(0, ·) turned into 0: the farthest sample scored as the most in-distribution.
    @Test func overflowingDistanceScoresMinusInfinity() throws {
        // d = 1, classes around ±1000 with unit variance: W = 1, whitened means ±1000.
        let detector = try withMatrix([999, 1001, -999, -1001], rows: 4, columns: 1) { m in
            try [Int32(0), 0, 1, 1].withUnsafeBufferPointer { try MahalanobisDetector(features: m, labels: $0, classCount: 2) }
        }
        var scores = [Float](repeating: 0, count: 3)
        try withMatrix([1000, 1e36, -1e36], rows: 3, columns: 1) { m in try scores.withUnsafeMutableBufferPointer { try detector.scores(m, into: $0) } }
        #expect(abs(scores[0]) < 1e-3)
        #expect(scores[1] == -.infinity && scores[2] == -.infinity)
        // In an ensemble: a layer of weight 0 adds nothing (−∞·0 made the sample NaN), one
        // weight adds −∞, and weights of both signs would add ∞ − ∞: that throws.
        func ensemble(_ weights: [Double]) throws -> [Float] {
            var out = [Float](repeating: 0, count: 3)
            try withMatrix([1000, 1e36, -1e36], rows: 3, columns: 1) { m in
                try out.withUnsafeMutableBufferPointer { try MahalanobisEnsemble(detectors: [detector, detector], weights: weights).scores(layers: [m, m], into: $0) }
            }
            return out
        }
        #expect(try ensemble([1, 0]) == scores)
        #expect(try ensemble([0.5, 0.5])[1] == -.infinity)
        #expect(throws: FulcrumError.invalidParameter(argument: "layers", value: "sample 1",
                                                      requirement: "no distance overflow in layers whose weights differ in sign")) {
            try ensemble([1, -1])
        }
    }

    @Test func badInputThrows() throws {
        try withMatrix([1, 2, .nan, 4], rows: 2, columns: 2) { m in
            try [Int32(0), 1].withUnsafeBufferPointer { y in
                #expect(throws: FulcrumError.nonFiniteValue(argument: "features", row: 1, column: 0)) { try MahalanobisDetector(features: m, labels: y, classCount: 2) }
            }
        }
        try withMatrix([1, 2, 3, 4], rows: 2, columns: 2) { m in
            try [Int32(0), 0].withUnsafeBufferPointer { y in
                #expect(throws: FulcrumError.emptyReduction(argument: "labels", reason: "class 1 has no sample: its mean is undefined")) {
                    try MahalanobisDetector(features: m, labels: y, classCount: 2)
                }
            }
            // More classes than samples: C·d means were allocated (and C·d overflowed) first.
            [Int32(0), 1].withUnsafeBufferPointer { y in
                #expect(throws: FulcrumError.invalidParameter(argument: "classCount", value: "\(Int.max / 2)", requirement: "<= 2, the sample count (every class needs a sample)")) {
                    try MahalanobisDetector(features: m, labels: y, classCount: Int.max / 2)
                }
            }
            try [Int32(0), 5].withUnsafeBufferPointer { y in
                #expect(throws: FulcrumError.indexOutOfRange(argument: "labels", position: 1, value: 5, validRange: "0..<2")) {
                    try MahalanobisDetector(features: m, labels: y, classCount: 2)
                }
            }
            // Each class one sample: a zero within-class covariance, whose whitening overflows
            // Float (the scores were ±∞/NaN).
            [Int32(0), 1].withUnsafeBufferPointer { y in
                #expect(throws: FulcrumError.invalidParameter(
                    argument: "features", value: "within-class covariance of trace 0.0",
                    requirement: "features that vary within their classes, so that the whitening Σ^(-1/2) fits in Float")) {
                    try MahalanobisDetector(features: m, labels: y, classCount: 2)
                }
            }
        }
        try withMatrix([1, 2, 3, 4, 2, 5], rows: 3, columns: 2) { m in
            let detector = try [Int32(0), 1, 0].withUnsafeBufferPointer { try MahalanobisDetector(features: m, labels: $0, classCount: 2) }
            var scores = [Float](repeating: 0, count: 3)
            var tooMany = [Float](repeating: 0, count: 4)
            #expect(throws: FulcrumError.shapeMismatch(argument: "scores", expected: "3", actual: "4")) {
                try tooMany.withUnsafeMutableBufferPointer { try detector.scores(m, into: $0) }
            }
            try scores.withUnsafeMutableBufferPointer { try detector.scores(m, into: $0) }
            #expect(scores.allSatisfy { $0.isFinite })
        }
    }
}
