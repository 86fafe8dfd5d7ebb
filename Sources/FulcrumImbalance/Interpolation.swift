import FulcrumKernels

/// The synthetic rows of the SMOTE family: `x_seed + gap · (x_partner − x_seed)`.
///
/// The plan (seed row, partner row, gap) is drawn on the calling thread in a fixed order; the
/// rows are then written in parallel, each from its own plan entry, in Double and rounded once
/// to Float, so that the result is independent of the thread count and lies on the segment up to
/// that one rounding.
struct InterpolationPlan {
    var seeds: [Int] = []
    var partners: [Int] = []
    var gaps: [Double] = []
    var labels: [Int] = []

    var count: Int { seeds.count }

    mutating func add(seed: Int, partner: Int, gap: Double, label: Int) {
        seeds.append(seed)
        partners.append(partner)
        gaps.append(gap)
        labels.append(label)
    }

    /// imbalanced-learn's `_make_samples`: `count` rows whose seed and neighbour are drawn
    /// uniformly among the `seeds.count × k` (seed, neighbour) pairs, with gap uniform in
    /// `[0, stepSize)`.
    mutating func addUniform(
        count: Int, seeds seedRows: [Int], neighbors: [[Int]], stepSize: Double, label: Int, generator: inout some RandomNumberGenerator
    ) {
        guard count > 0, let k = neighbors.first?.count, k > 0 else { return }
        for _ in 0..<count {
            let (p, c) = generator.nextIndex(below: seedRows.count * k).quotientAndRemainder(dividingBy: k)
            add(seed: seedRows[p], partner: neighbors[p][c], gap: stepSize * generator.nextUnit(), label: label)
        }
    }

    /// Writes the planned rows, row-major, at `target` (`count × D` elements).
    func write(from features: MatrixView<Float>, into target: UnsafeMutablePointer<Float>) {
        let d = features.columns
        let out = UncheckedSendableBox(target)
        let (seeds, partners, gaps) = (self.seeds, self.partners, self.gaps)
        Threads.forEachBlock(count: count, blockSize: 1024) { _, range in
            for r in range {
                let (x, y, g) = (features.row(seeds[r]), features.row(partners[r]), gaps[r])
                let row = out.value + r * d
                for c in 0..<d {
                    let a = Double(x[c])
                    row[c] = Float(a + g * (Double(y[c]) - a))
                }
            }
        }
    }
}

/// Moves a pointer into a parallel-for body; each block writes disjoint rows.
struct UncheckedSendableBox<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}
