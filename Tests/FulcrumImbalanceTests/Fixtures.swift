import Testing
import FulcrumKernels
@testable import FulcrumImbalance

/// A labelled data set for the tests.
struct LabelledData {
    var features: [Float]
    var labels: [Int]
    let columns: Int
    var rows: Int { features.count / columns }

    func row(_ i: Int) -> [Float] { Array(features[i * columns ..< (i + 1) * columns]) }

    func withView<R>(_ body: (MatrixView<Float>) throws -> R) rethrows -> R {
        try features.withUnsafeBufferPointer {
            try body(MatrixView(unchecked: $0.baseAddress, rows: rows, columns: columns, rowStride: columns))
        }
    }

    func resample(_ sampler: some Sampler, seed: UInt64 = 7) throws -> Resampled {
        var generator = SplitMix64(seed: seed)
        return try withView { try sampler.fitResample(features: $0, labels: labels, generator: &generator) }
    }

    /// Random Gaussian-ish blobs: class `c` centred at `c · separation` on every axis.
    static func blobs(sizes: [Int], columns: Int, separation: Double = 1, seed: UInt64 = 1) -> LabelledData {
        var generator = SplitMix64(seed: seed)
        var features: [Float] = [], labels: [Int] = []
        for (c, size) in sizes.enumerated() {
            for _ in 0..<size {
                for _ in 0..<columns { features.append(Float(Double(c) * separation + generator.nextNormal())) }
                labels.append(c)
            }
        }
        return LabelledData(features: features, labels: labels, columns: columns)
    }
}

/// Squared Euclidean distance in Double.
func squaredDistance(_ a: [Float], _ b: [Float]) -> Double {
    var sum = 0.0
    for (x, y) in zip(a, b) {
        let t = Double(x) - Double(y)
        sum += t * t
    }
    return sum
}

/// Brute-force k nearest neighbours of row `i` among `candidates` (self excluded by index),
/// ties to the lower index.
func bruteNeighbors(_ data: LabelledData, of i: Int, among candidates: [Int], k: Int) -> [Int] {
    let x = data.row(i)
    var scored: [(distance: Double, index: Int)] = []
    for j in candidates where j != i { scored.append((squaredDistance(x, data.row(j)), j)) }
    scored.sort { a, b in a.distance < b.distance || (a.distance == b.distance && a.index < b.index) }
    return scored.prefix(k).map { $0.index }
}

/// Whether `point` lies on the segment from `a` to `b` (within Float rounding of the coordinates).
func onSegment(_ point: [Float], _ a: [Float], _ b: [Float], stepSize: Double = 1) -> Bool {
    var direction: [Double] = [], offset: [Double] = []
    var length2 = 0.0, dot = 0.0
    for c in 0..<a.count {
        direction.append(Double(b[c]) - Double(a[c]))
        offset.append(Double(point[c]) - Double(a[c]))
        length2 += direction[c] * direction[c]
        dot += offset[c] * direction[c]
    }
    let g = length2 > 0 ? dot / length2 : 0
    guard g >= -1e-6, g <= stepSize + 1e-6 else { return false }
    for c in 0..<a.count {
        let expected = Double(a[c]) + g * direction[c]
        if abs(Double(point[c]) - expected) > 1e-6 * max(1, abs(expected)) { return false }
    }
    return true
}
