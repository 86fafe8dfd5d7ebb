import FulcrumKernels

/// The synthetic rows of the SMOTE family: `x_seed + gap · (x_partner − x_seed)`.
///
/// The plan (seed row, partner row, gap) is drawn in fixed blocks of samples, each from its own
/// stream seeded by the caller's generator (see `addUniform`); the rows are then written in parallel, each from its own plan entry, in Double and rounded once
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

    /// Samples per block of `addUniform`'s parallel draws (fixed: the draws do not depend on the
    /// thread count).
    static let drawBlock = 4096

    /// imbalanced-learn's `_make_samples`: `count` rows whose seed and neighbour are drawn
    /// uniformly among the `seeds.count × k` (seed, neighbour) pairs, with gap uniform in
    /// `[0, stepSize)`.
    ///
    /// One value is drawn from `generator`; sample block `b` (`drawBlock` samples) then draws from
    /// its own `SplitMix64` seeded by that value and `b`, so the blocks are drawn in parallel and
    /// the plan is the same for any thread count.
    mutating func addUniform(
        count: Int, seeds seedRows: [Int], neighbors: [[Int]], stepSize: Double, label: Int, generator: inout some RandomNumberGenerator
    ) {
        // Pair q = p·k + c as flat tables, so that a draw is two loads (no division by k); each
        // seed is repeated once per neighbour it has, so the two tables always line up.
        let pairSeeds = zip(seedRows, neighbors).flatMap { seed, list in repeatElement(seed, count: list.count) }
        let pairPartners = neighbors.flatMap { $0 }
        guard count > 0, !pairSeeds.isEmpty else { return }
        let stream = generator.next()
        let start = seeds.count
        seeds.append(contentsOf: repeatElement(0, count: count))
        partners.append(contentsOf: repeatElement(0, count: count))
        gaps.append(contentsOf: repeatElement(0, count: count))
        labels.append(contentsOf: repeatElement(label, count: count))
        seeds.withUnsafeMutableBufferPointer { seedBuffer in
            partners.withUnsafeMutableBufferPointer { partnerBuffer in
                gaps.withUnsafeMutableBufferPointer { gapBuffer in
                    let out = UncheckedSendableBox((seedBuffer.baseAddress! + start, partnerBuffer.baseAddress! + start, gapBuffer.baseAddress! + start))
                    Threads.forEachBlock(count: count, blockSize: Self.drawBlock) { block, range in
                        var blockGenerator = SplitMix64(seed: Self.blockSeed(stream, block))
                        for r in range {
                            let q = blockGenerator.nextIndex(below: pairSeeds.count)
                            out.value.0[r] = pairSeeds[q]
                            out.value.1[r] = pairPartners[q]
                            out.value.2[r] = stepSize * blockGenerator.nextUnit()
                        }
                    }
                }
            }
        }
    }

    /// The seed of sample block `block` of a stream: one SplitMix64 output of the pair, so that
    /// neighbouring blocks get unrelated streams.
    static func blockSeed(_ stream: UInt64, _ block: Int) -> UInt64 {
        var mixer = SplitMix64(seed: stream ^ (UInt64(block) &* 0xD1B5_4A32_D192_ED03))
        return mixer.next()
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
