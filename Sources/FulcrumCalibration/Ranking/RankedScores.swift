import FulcrumKernels

/// Binary scores sorted once, from which every ranking metric is read: ROC AUC (full and
/// partial), average precision, the ROC and precision-recall curves.
///
/// Building it is one validation pass, one partition pass and a radix sort of the 32-bit score
/// keys (`RadixSort`): O(n) time, no comparison sort. Without weights the positives' and the
/// negatives' keys are sorted separately (4 bytes per sample move); with weights each sample's key
/// travels with its weight and label in one 64-bit word.
///
/// **Counts.** Without weights every count (true and false positives, pairs) is an `Int64`, so the
/// metrics stay exact far beyond the 2²⁴ samples at which a Float32 running count stops
/// incrementing; ratios are formed in `Double` at the end. With weights the sums are `Double`.
///
/// **Ties** are groups: all samples with the same score cross a threshold together, as in
/// scikit-learn (`-0.0` and `+0.0` are the same score). ±∞ are valid scores; NaN is rejected.
public struct RankedScores: Sendable {
    enum Storage: Sendable {
        /// Ascending keys of the positives and of the negatives.
        case counted(positives: LargeBuffer<UInt32>, negatives: LargeBuffer<UInt32>)
        /// Ascending by key (high 32 bits); low 32 bits: the weight's Float bits, sign bit = label.
        case weighted(items: LargeBuffer<UInt64>)
    }

    let storage: Storage
    /// Number (or total weight) of positives, as Double.
    public let positiveTotal: Double
    /// Number (or total weight) of negatives, as Double.
    public let negativeTotal: Double
    /// Number of samples.
    public let count: Int

    /// Sorts `scores` with their binary `labels` (1 = positive, 0 = negative) and optional
    /// non-negative `sampleWeights`.
    ///
    /// - Throws: `FulcrumError.shapeMismatch` naming `labels` or `sampleWeights` for a length that
    ///   differs from `scores`; `nonFiniteValue` naming `scores` for a NaN score (or
    ///   `sampleWeights` for a non-finite weight); `indexOutOfRange` naming `labels` for a label
    ///   other than 0 or 1; `invalidParameter` for a negative weight; `emptyReduction` naming
    ///   `labels` when one class is absent (or has zero total weight), where no ranking metric is
    ///   defined.
    public init(scores: UnsafeBufferPointer<Float>, labels: UnsafeBufferPointer<Int32>, sampleWeights: UnsafeBufferPointer<Float>? = nil) throws {
        try checkLength(labels.count, scores.count, argument: "labels")
        try checkWeights(sampleWeights, count: scores.count)
        count = scores.count
        if let weights = sampleWeights {
            (storage, positiveTotal, negativeTotal) = try Self.sortWeighted(scores, labels, weights)
        } else {
            (storage, positiveTotal, negativeTotal) = try Self.sortCounted(scores, labels)
        }
        guard positiveTotal > 0 else {
            throw FulcrumError.emptyReduction(argument: "labels", reason: "no positive sample (label 1): ranking metrics need both classes")
        }
        guard negativeTotal > 0 else {
            throw FulcrumError.emptyReduction(argument: "labels", reason: "no negative sample (label 0): ranking metrics need both classes")
        }
    }

    /// `true` when built with sample weights.
    public var isWeighted: Bool { if case .weighted = storage { true } else { false } }

    // MARK: Building

    private static func sortCounted(
        _ scores: UnsafeBufferPointer<Float>, _ labels: UnsafeBufferPointer<Int32>
    ) throws -> (Storage, Double, Double) {
        let n = scores.count
        let blockSize = passBlockSize(n)
        let blocks = (n + blockSize - 1) / blockSize
        // Pass 1: per block, the positives and the first NaN score / bad label.
        var positivesPerBlock = [Int](repeating: 0, count: blocks)
        var firstBad = [Int](repeating: Int.max, count: blocks)
        positivesPerBlock.withUnsafeMutableBufferPointer { positives in
            firstBad.withUnsafeMutableBufferPointer { bad in
                Threads.forEachBlock(count: n, blockSize: blockSize) { block, range in
                    var p = 0
                    var ok = true
                    for i in range {
                        let y = labels[i]
                        p &+= Int(y & 1)
                        ok = ok && (y | 1) == 1 && !scores[i].isNaN
                    }
                    positives[block] = p
                    if !ok { bad[block] = range.first { (labels[$0] | 1) != 1 || scores[$0].isNaN }! }
                }
            }
        }
        if let i = firstBad.min(), i != Int.max {
            if scores[i].isNaN { throw FulcrumError.nonFiniteValue(argument: "scores", row: i, column: 0) }
            throw FulcrumError.indexOutOfRange(argument: "labels", position: i, value: Int(labels[i]), validRange: "0..<2")
        }
        let p = positivesPerBlock.reduce(0, +)
        var positives = LargeBuffer<UInt32>(count: p)
        var negatives = LargeBuffer<UInt32>(count: n - p)
        // Pass 2: every block writes its keys at its offsets.
        do {
            do {
                let (pos, neg) = (positives.buffer, negatives.buffer)
                var starts: [(Int, Int)] = []
                var (a, b) = (0, 0)
                for block in 0..<blocks {
                    starts.append((a, b))
                    a += positivesPerBlock[block]
                    b += min(n, (block + 1) * blockSize) - block * blockSize - positivesPerBlock[block]
                }
                let (posBase, negBase) = (pos.baseAddress, neg.baseAddress)
                starts.withUnsafeBufferPointer { starts in
                    Threads.forEachBlock(count: n, blockSize: blockSize) { block, range in
                        var (i, j) = starts[block]
                        for k in range {
                            let key = RadixSort.key(scores[k])
                            if labels[k] == 1 { posBase.unsafelyUnwrapped[i] = key; i += 1 }
                            else { negBase.unsafelyUnwrapped[j] = key; j += 1 }
                        }
                    }
                }
            }
        }
        // Sort each class; keep whichever buffer the last radix pass wrote.
        for index in 0..<2 {
            let keys = index == 0 ? positives : negatives
            let scratch = LargeBuffer<UInt32>(count: keys.count)
            if try RadixSort.sortedBuffer(keys.buffer, scratch: scratch.buffer).baseAddress != keys.pointer {
                if index == 0 { positives = scratch } else { negatives = scratch }
            }
        }
        return (.counted(positives: positives, negatives: negatives), Double(p), Double(n - p))
    }

    private static func sortWeighted(
        _ scores: UnsafeBufferPointer<Float>, _ labels: UnsafeBufferPointer<Int32>, _ weights: UnsafeBufferPointer<Float>
    ) throws -> (Storage, Double, Double) {
        try checkNoNaN(scores)
        try checkLabels(labels, classCount: 2)
        var (positive, negative) = (0.0, 0.0)
        let items = LargeBuffer<UInt64>(count: scores.count)
        for i in 0..<scores.count {
            let w = weights[i] + 0  // −0 → +0, so the sign bit is free for the label
            let label = UInt32(labels[i])
            if label == 1 { positive += Double(w) } else { negative += Double(w) }
            items.pointer[i] = UInt64(RadixSort.key(scores[i])) << 32 | UInt64(w.bitPattern | label << 31)
        }
        try LargeBuffer<UInt64>(count: items.count).withBuffer { try RadixSort.sort(keyed: items.buffer, scratch: $0) }
        return (.weighted(items: items), positive, negative)
    }
}

