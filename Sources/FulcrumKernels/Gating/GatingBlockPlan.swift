/// Where each parallel block of the gating forward pass accumulates its statistics.
///
/// Block b covers rows [512·b, 512·(b+1)); it gets one *partial* (E′ counts, E′ Double score sums)
/// per sequence it touches. Partials are stored in (block, sequence) order, so adding them up in
/// storage order sums every sequence in block order: the result never depends on which thread
/// ran which block.
struct GatingBlockPlan {
    let blocks: Int
    let experts: Int
    let stride: Int
    /// Partials of block b: `firstPartial[b] ..< firstPartial[b + 1]`.
    let firstPartial: [Int]
    /// The sequence each partial belongs to.
    let partialSequence: [Int]
    /// The sequence offsets o₀ = 0 < o₁ < … < o_S = N.
    let offsets: [Int]
    private let countStorage: UnsafeMutablePointer<Int64>
    private let sumStorage: UnsafeMutablePointer<Double>

    init(tokenCount n: Int, offsets: [Int], experts: Int) {
        let rows = Gating.blockRows
        blocks = (n + rows - 1) / rows
        self.experts = experts
        stride = (experts + 7) & ~7
        var first = [0]
        var sequenceOf: [Int] = []
        var sequence = 0
        for b in 0..<blocks {
            let (lower, upper) = (b * rows, min(n, (b + 1) * rows))
            while offsets[sequence + 1] <= lower { sequence += 1 }
            var last = sequence
            while offsets[last + 1] < upper { last += 1 }
            sequenceOf.append(contentsOf: sequence...last)
            first.append(sequenceOf.count)
        }
        self.offsets = offsets
        firstPartial = first
        partialSequence = sequenceOf
        let total = max(1, sequenceOf.count) * stride
        countStorage = .allocate(capacity: total)
        countStorage.initialize(repeating: 0, count: total)
        sumStorage = .allocate(capacity: total)
        sumStorage.initialize(repeating: 0, count: total)
    }

    func deallocate() {
        countStorage.deallocate()
        sumStorage.deallocate()
    }

    @inline(__always) func counts(_ partial: Int) -> UnsafeMutablePointer<Int64> { countStorage + partial * stride }
    @inline(__always) func sums(_ partial: Int) -> UnsafeMutablePointer<Double> { sumStorage + partial * stride }

    /// Calls `body` with each run of block `block`'s rows (`range`) that lies in one sequence, in
    /// row order, and the partial its statistics go to.
    @inline(__always)
    func forEachRun(of block: Int, _ range: Range<Int>, _ body: (Range<Int>, Int) -> Void) {
        var lower = range.lowerBound
        for partial in firstPartial[block] ..< firstPartial[block + 1] {
            let upper = min(range.upperBound, offsets[partialSequence[partial] + 1])
            body(lower ..< upper, partial)
            lower = upper
        }
    }

    /// Writes the per-sequence totals into `expertCounts` and `scoreSums`.
    func combine(into outputs: GatingOutputs) {
        outputs.expertCounts.fill(with: 0)
        outputs.scoreSums.fill(with: 0)
        for (partial, sequence) in partialSequence.enumerated() {
            let (c, s) = (counts(partial), sums(partial))
            let (countRow, sumRow) = (outputs.expertCounts.row(sequence), outputs.scoreSums.row(sequence))
            for e in 0..<experts {
                countRow[e] += c[e]
                sumRow[e] += s[e]
            }
        }
    }

    /// Assignments block b sent to each expert (the sum of its partials), into `into[0..<E′]`.
    func blockCounts(_ block: Int, into result: UnsafeMutablePointer<Int64>) {
        result.initialize(repeating: 0, count: experts)
        for partial in firstPartial[block] ..< firstPartial[block + 1] {
            let c = counts(partial)
            for e in 0..<experts { result[e] += c[e] }
        }
    }
}
