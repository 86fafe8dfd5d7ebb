import Foundation
@testable import FulcrumKernels

// A plain, obviously-correct Double implementation of the router, written from the formulas in
// the documentation (not from the kernel), for the gating tests.

extension TestRandom {
    /// Logits on the grid i/16 in [−4, 4): exact in Float, with occasional exact ties.
    mutating func gridLogits(_ rows: Int, _ columns: Int) -> Matrix<Float> {
        try! Matrix(rows: rows, columns: columns, elements: (0..<(rows * columns)).map { _ in Float(below(128) - 64) / 16 })
    }
    /// Continuous logits in [lower, upper).
    mutating func logits(_ rows: Int, _ columns: Int, _ lower: Double = -3, _ upper: Double = 3) -> Matrix<Float> {
        try! Matrix(rows: rows, columns: columns, elements: values(rows * columns, lower, upper))
    }
}

struct ReferenceRow {
    var experts: [Int] = []      // selected, best first (dropped marked ~e after capacity)
    var weights: [Double] = []
    var lse = 0.0
    var scores: [Double] = []    // load-balancing scores s_j
    var keys: [Double] = []
    var ambiguous = false        // a near tie (not an exact one) at the selection boundary
}

enum GatingReference {
    static func sigmoid(_ x: Double) -> Double { 1 / (1 + exp(-x)) }

    /// The top `k` of `keys[candidates]`, larger first, ties to the lower index.
    static func topK(_ keys: [Double], _ candidates: [Int], _ k: Int) -> [Int] {
        Array(candidates.sorted { keys[$0] > keys[$1] || (keys[$0] == keys[$1] && $0 < $1) }.prefix(k))
    }

    /// Weights (including λ) of `experts` for row `x`, per the documented formulas.
    static func weights(_ x: [Double], _ experts: [Int], _ c: GatingConfiguration) -> [Double] {
        let lambda = Double(c.scalingFactor)
        switch c.scoreFunction {
        case .softmax:
            let m = x.max()!
            let p = x.map { exp($0 - m) }
            let total = p.reduce(0, +)
            if !c.preSoftmax || c.normalizeTopK {
                let ms = experts.map { x[$0] }.max()!
                let e = experts.map { exp(x[$0] - ms) }
                let s = e.reduce(0, +)
                return e.map { lambda * $0 / s }
            }
            return experts.map { lambda * p[$0] / total }
        case .sigmoid:
            let s = experts.map { sigmoid(x[$0]) }
            if c.normalizeTopK {
                let total = s.reduce(0, +)
                return s.map { lambda * $0 / total }
            }
            return s.map { lambda * $0 }
        }
    }

    static func row(_ x: [Double], _ c: GatingConfiguration, bias: [Double]?) -> ReferenceRow {
        var r = ReferenceRow()
        let m = x.max()!
        let e = x.map { exp($0 - m) }
        let total = e.reduce(0, +)
        r.lse = m + log(total)
        let p = e.map { $0 / total }
        let sig = x.map(sigmoid)
        switch c.scoreFunction {
        case .softmax: r.scores = p
        case .sigmoid:
            let s = sig.reduce(0, +)
            r.scores = sig.map { $0 / s }
        }
        var keys: [Double]
        switch c.scoreFunction {
        case .softmax: keys = c.preSoftmax ? p : x
        case .sigmoid: keys = sig
        }
        if let bias { keys = zip(keys, bias).map { $0 + $1 } }
        r.keys = keys
        var candidates = Array(0..<x.count)
        if c.groupCount > 1 {
            let size = x.count / c.groupCount
            let perGroup = min(size, max(1, c.topK / c.groupTopK))
            let groupScores = (0..<c.groupCount).map { g in
                topK(keys, Array(g * size ..< (g + 1) * size), perGroup).reduce(0.0) { $0 + keys[$1] }
            }
            let kept = topK(groupScores, Array(0..<c.groupCount), c.groupTopK).sorted()
            candidates = kept.flatMap { g in Array(g * size ..< (g + 1) * size) }
        }
        r.experts = topK(keys, candidates, c.topK)
        let chosenKeys = r.experts.map { keys[$0] }
        let restKeys = candidates.filter { !r.experts.contains($0) }.map { keys[$0] }
        if let worst = chosenKeys.min(), let best = restKeys.max() {
            r.ambiguous = worst != best && abs(worst - best) < 1e-5
        }
        r.weights = weights(x, r.experts, c)
        return r
    }

    /// Applies the capacity limit to all rows (sequentially), marking drops with ~e and weight 0.
    static func applyCapacity(_ rows: inout [ReferenceRow], _ c: GatingConfiguration) {
        guard let capacity = c.capacity(tokenCount: rows.count) else { return }
        for e in 0..<c.expertCount {
            var slots: [(t: Int, a: Int)] = []
            for t in rows.indices { if let a = rows[t].experts.firstIndex(of: e) { slots.append((t, a)) } }
            guard slots.count > capacity else { continue }
            if c.dropPolicy == .probability {
                // Compare the Float weights the kernel compares: rounding can merge near values.
                slots.sort { x, y in
                    let (wx, wy) = (Float(rows[x.t].weights[x.a]), Float(rows[y.t].weights[y.a]))
                    return wx > wy || (wx == wy && x.t < y.t)
                }
            }
            for s in slots[capacity...] {
                rows[s.t].experts[s.a] = ~e
                rows[s.t].weights[s.a] = 0
            }
        }
    }

    static func route(_ logits: Matrix<Float>, _ c: GatingConfiguration, bias: [Float]? = nil) -> [ReferenceRow] {
        var rows = (0..<logits.rows).map { t in
            row((0..<logits.columns).map { Double(logits[t, $0]) }, c, bias: bias?.map(Double.init))
        }
        applyCapacity(&rows, c)
        return rows
    }

    /// The loss of `Gating.backward` for one row x with the selection `indices` held fixed.
    static func rowLoss(
        _ x: [Double], _ c: GatingConfiguration, indices: [Int32], g: [Double], coefficients: [Double], gamma: Double
    ) -> Double {
        let experts = indices.map { $0 < 0 ? Int(~$0) : Int($0) }
        let w = weights(x, experts, c)
        var loss = 0.0
        for a in indices.indices where indices[a] >= 0 { loss += g[a] * w[a] }
        let r = row(x, c, bias: nil)
        for j in x.indices { loss += coefficients[j] * r.scores[j] }
        return loss + gamma * r.lse * r.lse
    }

    /// Central finite differences of `rowLoss` in Double, step h.
    static func rowGradient(
        _ x: [Double], _ c: GatingConfiguration, indices: [Int32], g: [Double], coefficients: [Double], gamma: Double,
        h: Double = 1e-5
    ) -> [Double] {
        x.indices.map { j in
            var plus = x, minus = x
            plus[j] += h
            minus[j] -= h
            return (rowLoss(plus, c, indices: indices, g: g, coefficients: coefficients, gamma: gamma)
                - rowLoss(minus, c, indices: indices, g: g, coefficients: coefficients, gamma: gamma)) / (2 * h)
        }
    }
}

/// Runs the kernel into owned buffers (thin wrapper for the tests).
func route(_ logits: Matrix<Float>, _ c: GatingConfiguration, bias: [Float]? = nil, offsets: [Int]? = nil) throws -> GatingResult {
    try logits.withView { try GatingResult(routing: $0, configuration: c, expertBias: bias, sequenceOffsets: offsets) }
}

/// |a − b| ≤ abs + rel·|b|.
func close(_ a: Double, _ b: Double, abs: Double = 1e-6, rel: Double = 1e-5) -> Bool {
    Swift.abs(a - b) <= abs + rel * Swift.abs(b)
}
