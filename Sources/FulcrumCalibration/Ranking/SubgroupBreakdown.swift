import FulcrumKernels

/// Ranking metrics of one subpopulation.
public struct SubgroupRanking: Sendable, Equatable {
    /// The group id.
    public var group: Int
    /// Samples in the group.
    public var count: Int
    /// Number (or total weight) of positives in the group.
    public var positives: Double
    /// Number (or total weight) of negatives in the group.
    public var negatives: Double
    /// ROC AUC within the group; `nil` when the group lacks a class (or is empty).
    public var rocAUC: Double?
    /// Average precision within the group; `nil` when the group lacks a class (or is empty).
    public var averagePrecision: Double?
}

/// ROC AUC and average precision overall and per subpopulation.
public struct SubgroupRankingReport: Sendable, Equatable {
    /// ROC AUC over all samples.
    public var rocAUC: Double
    /// Average precision over all samples.
    public var averagePrecision: Double
    /// One entry per group id `0..<groupCount`.
    public var groups: [SubgroupRanking]
}

extension RankingMetrics {
    /// ROC AUC and average precision overall and within each subpopulation, the breakdown the
    /// analysis of "A Closer Look at AUROC and AUPRC under Class Imbalance" rests on (a model can
    /// rank well overall and badly inside a group, and AUPRC favours the high-prevalence group).
    ///
    /// Shapes: `scores`, `labels`, `groups` (ids in `0..<groupCount`), `sampleWeights`: n each.
    /// Cost: one counting sort by group and one radix-sorted binary problem per group, O(n).
    ///
    /// - Throws: the errors of `RankedScores.init` for the whole sample, `shapeMismatch` naming
    ///   `groups`, `indexOutOfRange` naming `groups`, `invalidParameter` naming `groupCount` < 1.
    public static func subgroupBreakdown(
        scores: UnsafeBufferPointer<Float>, labels: UnsafeBufferPointer<Int32>,
        groups: UnsafeBufferPointer<Int32>, groupCount: Int, sampleWeights: UnsafeBufferPointer<Float>? = nil
    ) throws -> SubgroupRankingReport {
        guard groupCount >= 1 else {
            throw FulcrumError.invalidParameter(argument: "groupCount", value: "\(groupCount)", requirement: ">= 1")
        }
        try checkLength(groups.count, scores.count, argument: "groups")
        try checkLabels(groups, classCount: groupCount, argument: "groups")
        let overall = try RankedScores(scores: scores, labels: labels, sampleWeights: sampleWeights)
        var members = [[Int]](repeating: [], count: groupCount)
        for (i, g) in groups.enumerated() { members[Int(g)].append(i) }
        var report: [SubgroupRanking] = []
        for (g, rows) in members.enumerated() {
            let s = rows.map { scores[$0] }, y = rows.map { labels[$0] }
            let w = sampleWeights.map { weights in rows.map { weights[$0] } }
            let positives = rows.indices.reduce(0.0) { $0 + (y[$1] == 1 ? Double(w?[$1] ?? 1) : 0) }
            let negatives = rows.indices.reduce(0.0) { $0 + (y[$1] == 0 ? Double(w?[$1] ?? 1) : 0) }
            var entry = SubgroupRanking(group: g, count: rows.count, positives: positives, negatives: negatives)
            if positives > 0 && negatives > 0 {
                let ranked = try s.withUnsafeBufferPointer { s in
                    try y.withUnsafeBufferPointer { y in
                        if let w { return try w.withUnsafeBufferPointer { try RankedScores(scores: s, labels: y, sampleWeights: $0) } }
                        return try RankedScores(scores: s, labels: y)
                    }
                }
                entry.rocAUC = try ranked.rocAUC()
                entry.averagePrecision = ranked.averagePrecision()
            }
            report.append(entry)
        }
        return SubgroupRankingReport(rocAUC: try overall.rocAUC(), averagePrecision: overall.averagePrecision(), groups: report)
    }
}
