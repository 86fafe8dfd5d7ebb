import FulcrumKernels

/// A count of samples: `Int64` without weights (exact), `Double` with weights.
protocol RankCount: Numeric, Comparable, Sendable {
    var doubleValue: Double { get }
}

extension Int64: RankCount {
    @inline(__always) var doubleValue: Double { Double(self) }
}

extension Double: RankCount {
    @inline(__always) var doubleValue: Double { self }
}

/// The samples that share one score: how many are positive and negative, and how many of each
/// lie strictly below it.
struct ThresholdGroup<C: RankCount> {
    var key: UInt32
    var positives: C
    var negatives: C
    var positivesBelow: C
    var negativesBelow: C

    /// The score of the group.
    var score: Float { RadixSort.value(ofKey: key) }
}

/// Receives threshold groups in ascending score order.
protocol ThresholdGroupVisitor {
    mutating func visit<C: RankCount>(_ group: ThresholdGroup<C>)
}

extension RankedScores {
    /// Visits, in ascending order, every score that at least one positive sample has (without
    /// weights; the negatives in between only matter through `negativesBelow`) or every distinct
    /// score (with weights). Enough for AUC, partial AUC and average precision: a score with no
    /// positive adds nothing to them. O(n).
    func forEachPositiveGroup<V: ThresholdGroupVisitor>(_ visitor: inout V) {
        switch storage {
        case let .counted(positives, negatives):
            do {
                do {
                    let (pos, neg) = (positives.readOnly, negatives.readOnly)
                    let (p, n) = (pos.count, neg.count)
                    var (i, j) = (0, 0)
                    while i < p {
                        let key = pos[i]
                        var end = i + 1
                        while end < p && pos[end] == key { end += 1 }
                        while j < n && neg[j] < key { j += 1 }
                        var upper = j
                        while upper < n && neg[upper] == key { upper += 1 }
                        visitor.visit(ThresholdGroup(key: key, positives: Int64(end - i), negatives: Int64(upper - j),
                                                     positivesBelow: Int64(i), negativesBelow: Int64(j)))
                        i = end
                        j = upper
                    }
                }
            }
        case .weighted:
            forEachGroup(&visitor)
        }
    }

    /// Visits every distinct score in ascending order. O(n).
    func forEachGroup<V: ThresholdGroupVisitor>(_ visitor: inout V) {
        switch storage {
        case let .counted(positives, negatives):
            do {
                do {
                    let (pos, neg) = (positives.readOnly, negatives.readOnly)
                    let (p, n) = (pos.count, neg.count)
                    var (i, j) = (0, 0)
                    while i < p || j < n {
                        let key = i < p && (j >= n || pos[i] <= neg[j]) ? pos[i] : neg[j]
                        var (ei, ej) = (i, j)
                        while ei < p && pos[ei] == key { ei += 1 }
                        while ej < n && neg[ej] == key { ej += 1 }
                        visitor.visit(ThresholdGroup(key: key, positives: Int64(ei - i), negatives: Int64(ej - j),
                                                     positivesBelow: Int64(i), negativesBelow: Int64(j)))
                        (i, j) = (ei, ej)
                    }
                }
            }
        case let .weighted(items):
            do {
                let items = items.readOnly
                var (below, belowNegative) = (0.0, 0.0)
                var i = 0
                while i < items.count {
                    let key = UInt32(truncatingIfNeeded: items[i] >> 32)
                    var (pos, neg) = (0.0, 0.0)
                    while i < items.count && UInt32(truncatingIfNeeded: items[i] >> 32) == key {
                        let payload = UInt32(truncatingIfNeeded: items[i])
                        let w = Double(Float(bitPattern: payload & 0x7FFF_FFFF))
                        if payload & 0x8000_0000 != 0 { pos += w } else { neg += w }
                        i += 1
                    }
                    visitor.visit(ThresholdGroup(key: key, positives: pos, negatives: neg,
                                                 positivesBelow: below, negativesBelow: belowNegative))
                    below += pos
                    belowNegative += neg
                }
            }
        }
    }
}
