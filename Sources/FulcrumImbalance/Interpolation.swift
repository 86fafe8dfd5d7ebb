import FulcrumKernels

/// The synthetic rows of the SMOTE family: `x_seed + gap · (x_partner − x_seed)`.
///
/// A plan is a list of runs of consecutive rows, each of one class: rows listed one by one
/// (`add`), or rows drawn uniformly from a table of (seed, partner) pairs (`addUniform`). A
/// uniform run stores only its pair table and a stream seed; its (seed, partner, gap) triples are
/// drawn where the rows are written, in fixed blocks of `drawBlock` rows, each block from its own
/// stream. The rows are written in parallel, in Double and rounded once to Float, so the result is
/// independent of the thread count and lies on the segment up to that one rounding.
struct InterpolationPlan {
    /// Where a run's rows come from.
    private enum Source {
        /// Rows `first ..< first + count` of the listed tables.
        case listed(first: Int)
        /// Rows drawn from a pair table (see `addUniform`).
        case uniform(UniformDraws)
    }

    private var runs: [(source: Source, label: Int, count: Int)] = []
    private var listedSeeds: [Int] = []
    private var listedPartners: [Int] = []
    private var listedGaps: [Double] = []

    /// Synthetic rows planned.
    private(set) var count = 0

    /// The label of every planned row, in order.
    var labels: [Int] { runs.flatMap { repeatElement($0.label, count: $0.count) } }

    /// Plans one row: `seed + gap · (partner − seed)`, with dataset rows `seed` and `partner`.
    mutating func add(seed: Int, partner: Int, gap: Double, label: Int) {
        if let last = runs.last, case .listed = last.source, last.label == label {
            runs[runs.count - 1].count += 1
        } else {
            runs.append((.listed(first: listedSeeds.count), label, 1))
        }
        listedSeeds.append(seed)
        listedPartners.append(partner)
        listedGaps.append(gap)
        count += 1
    }

    /// Samples per block of a uniform run's draws (fixed: the draws do not depend on the thread
    /// count).
    static let drawBlock = 4096

    /// imbalanced-learn's `_make_samples`: `count` rows whose (seed, partner) is drawn uniformly
    /// among `pairs`, with gap uniform in `[0, stepSize)`.
    ///
    /// One value is drawn from `generator` now; sample block `b` of the run (`drawBlock` samples)
    /// later draws from its own `SplitMix64` seeded by that value and `b`, so the blocks are drawn
    /// in parallel, where they are written, and the plan is the same for any thread count.
    mutating func addUniform(count: Int, pairs: NeighborPairs, stepSize: Double, label: Int, generator: inout some RandomNumberGenerator) {
        guard count > 0, !pairs.seeds.isEmpty else { return }
        runs.append((.uniform(UniformDraws(pairs: pairs, stream: generator.next(), stepSize: stepSize)), label, count))
        self.count += count
    }

    /// `addUniform` over the pairs (seed `seeds[p]`, each of `neighbors[p]`).
    mutating func addUniform(
        count: Int, seeds: [Int], neighbors: [[Int]], stepSize: Double, label: Int, generator: inout some RandomNumberGenerator
    ) {
        addUniform(count: count, pairs: NeighborPairs(seeds: seeds, neighbors: neighbors), stepSize: stepSize, label: label, generator: &generator)
    }

    /// The seed row of every planned row, in order.
    func seedRows() -> [Int] {
        var result: [Int] = []
        result.reserveCapacity(count)
        for run in runs {
            switch run.source {
            case .listed(let first):
                result += listedSeeds[first ..< first + run.count]
            case .uniform(let draws):
                for block in 0 ..< (run.count + Self.drawBlock - 1) / Self.drawBlock {
                    result += draws.seedRows(ofBlock: block, count: run.count)
                }
            }
        }
        return result
    }

    /// Writes the planned rows, row-major, at `target` (`count × D` elements).
    func write(from features: MatrixView<Float>, into target: UnsafeMutablePointer<Float>) {
        let d = features.columns
        var start = target
        for run in runs {
            let out = UncheckedSendableBox(start)
            switch run.source {
            case .listed(let first):
                let (seeds, partners, gaps) = (listedSeeds, listedPartners, listedGaps)
                Threads.forEachBlock(count: run.count, blockSize: 1024) { _, range in
                    for r in range {
                        interpolate(features.row(seeds[first + r]), features.row(partners[first + r]), gaps[first + r], d, into: out.value + r * d)
                    }
                }
            case .uniform(let draws):
                Threads.forEachBlock(count: run.count, blockSize: Self.drawBlock) { block, _ in
                    draws.write(block: block, count: run.count, from: features, into: out.value)
                }
            }
            start += run.count * d
        }
    }
}

/// The (seed, partner) pairs a uniform run draws from, as two aligned tables: pair `q` is
/// `(seeds[q], partners[q])`, so that a draw is two loads (no division by a neighbour count).
struct NeighborPairs {
    var seeds: [Int]
    var partners: [Int]

    /// The pairs (seed `seeds[p]`, each of `neighbors[p]`), seed by seed.
    init(seeds: [Int], neighbors: [[Int]]) {
        self.seeds = zip(seeds, neighbors).flatMap { seed, list in repeatElement(seed, count: list.count) }
        partners = neighbors.flatMap { $0 }
    }

    /// The pairs `(seeds[q], partners[q])`; the two tables have the same length.
    init(seeds: [Int], partners: [Int]) {
        self.seeds = seeds
        self.partners = partners
    }
}

/// The draws of a uniform run: block `b` of `drawBlock` rows draws from `SplitMix64` seeded by
/// `blockSeed(stream, b)`, for each row in order a pair index and then a gap.
private struct UniformDraws {
    let pairs: NeighborPairs
    let stream: UInt64
    let stepSize: Double

    /// The rows of draw block `block` of a run of `count` rows.
    func rows(ofBlock block: Int, count: Int) -> Range<Int> {
        let blockSize = InterpolationPlan.drawBlock
        return block * blockSize ..< min(count, (block + 1) * blockSize)
    }

    /// The next draw of a block's stream: a pair index, then a gap.
    @inline(__always)
    func draw(_ generator: inout SplitMix64) -> (pair: Int, gap: Double) {
        let q = generator.nextIndex(below: pairs.seeds.count)
        return (q, stepSize * generator.nextUnit())
    }

    /// The seed row of every row of draw block `block`, in order.
    func seedRows(ofBlock block: Int, count: Int) -> [Int] {
        var generator = SplitMix64(seed: Self.blockSeed(stream, block))
        return rows(ofBlock: block, count: count).map { _ in pairs.seeds[draw(&generator).pair] }
    }

    /// How many draws ahead each stage of `write` runs: a draw's pair entries are prefetched
    /// when it is drawn, loaded (and its two rows prefetched) `lead` draws later, and its row
    /// written `lead` draws after that, so the random reads of the pair tables and of the
    /// feature rows overlap with the writing instead of stalling it.
    static let lead = 8

    /// Writes the rows of draw block `block` of a run of `count` rows (row `r` at
    /// `target + r·D`), in three stages `lead` draws apart over a ring of 32 pending draws.
    func write(block: Int, count: Int, from features: MatrixView<Float>, into target: UnsafeMutablePointer<Float>) {
        var generator = SplitMix64(seed: Self.blockSeed(stream, block))
        let rows = rows(ofBlock: block, count: count), d = features.columns, lead = Self.lead
        pairs.seeds.withUnsafeBufferPointer { seeds in
            pairs.partners.withUnsafeBufferPointer { partners in
                withUnsafeTemporaryAllocation(of: (pair: Int, gap: Double, seed: Int, partner: Int).self, capacity: 32) { pending in
                    for r in rows.lowerBound ..< rows.upperBound + 2 * lead {
                        // Oldest stage first: a ring slot is reused 32 draws later, after its write.
                        if case let w = r - 2 * lead, w >= rows.lowerBound {
                            let p = pending[w & 31]
                            interpolate(features.row(p.seed), features.row(p.partner), p.gap, d, into: target + w * d)
                        }
                        if case let l = r - lead, l >= rows.lowerBound, l < rows.upperBound {
                            let q = pending[l & 31].pair
                            let (seed, partner) = (seeds[q], partners[q])
                            pending[l & 31].seed = seed
                            pending[l & 31].partner = partner
                            features.row(seed).prefetch(first: d)
                            features.row(partner).prefetch(first: d)
                        }
                        if r < rows.upperBound {
                            let (q, gap) = draw(&generator)
                            seeds.baseAddress!.prefetch(at: q)
                            partners.baseAddress!.prefetch(at: q)
                            pending[r & 31] = (q, gap, 0, 0)
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
}

/// `target[c] = x[c] + gap · (y[c] − x[c])` for `c < d`, in Double and rounded once to Float;
/// four lanes at a time (the same operations per lane as the scalar tail, so the same result).
@inline(__always)
private func interpolate(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, _ gap: Double, _ d: Int, into target: UnsafeMutablePointer<Float>) {
    let g = SIMD4<Double>(repeating: gap)
    var c = 0
    while c + 4 <= d {
        let a = SIMD4<Double>(UnsafeRawPointer(x + c).loadUnaligned(as: SIMD4<Float>.self))
        let b = SIMD4<Double>(UnsafeRawPointer(y + c).loadUnaligned(as: SIMD4<Float>.self))
        UnsafeMutableRawPointer(target + c).storeBytes(of: SIMD4<Float>(a + g * (b - a)), as: SIMD4<Float>.self)
        c += 4
    }
    while c < d {
        let a = Double(x[c])
        target[c] = Float(a + gap * (Double(y[c]) - a))
        c += 1
    }
}

/// Moves a pointer into a parallel-for body; each block writes disjoint rows.
struct UncheckedSendableBox<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}
