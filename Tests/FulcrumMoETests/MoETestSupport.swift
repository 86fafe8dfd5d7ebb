import Foundation
import FulcrumKernels
@testable import FulcrumMoE

/// Deterministic test data from the library's SplitMix64.
struct MoERandom {
    var generator: SplitMix64
    init(seed: UInt64) { generator = SplitMix64(seed: seed) }
    mutating func next() -> UInt64 { generator.next() }
    mutating func uniform(_ a: Double, _ b: Double) -> Double { a + (b - a) * Double(next() >> 11) * 0x1p-53 }

    /// Logits of `rows` tokens of one "domain": experts near `favourite` get a boost, so that
    /// micro-batches of one domain are unbalanced while the global batch is not.
    mutating func domainLogits(_ rows: Int, experts: Int, favourite: Int) -> [Float] {
        (0..<(rows * experts)).map { i in
            let e = i % experts
            let boost = (e - favourite + experts) % experts < 3 ? 2.0 : 0.0
            return Float(uniform(-1, 1) + boost)
        }
    }
}

func route(_ logits: [Float], _ c: GatingConfiguration, offsets: [Int]? = nil) throws -> GatingResult {
    let rows = logits.count / c.totalExpertCount
    let m = try Matrix(rows: rows, columns: c.totalExpertCount, elements: logits)
    return try m.withView { try GatingResult(routing: $0, configuration: c, sequenceOffsets: offsets) }
}

/// ∂(balance term)/∂logits through the kernel's backward pass.
func balanceGradient(_ logits: [Float], _ routing: GatingResult, _ loss: BalanceLoss) throws -> [Float] {
    let c = routing.configuration
    let rows = routing.tokenCount
    let x = try Matrix(rows: rows, columns: c.totalExpertCount, elements: logits)
    var out = try Matrix<Float>(rows: rows, columns: c.totalExpertCount, repeating: 0)
    try x.withView { xv in try routing.indices.withView { iv in try loss.coefficients.withView { cv in
        try routing.logSumExp.withUnsafeBufferPointer { lse in
            try out.withMutableView { ov in
                try Gating.backward(logits: xv, configuration: c, indices: iv, logSumExp: lse, weightGradients: nil,
                                    balanceCoefficients: cv, sequenceOffsets: routing.sequenceOffsets, into: ov)
            }
        }
    } } }
    return out.storage
}

/// A plain Double micro-batch LBL for softmax "top-k then softmax" routing, from the definition:
/// α·E′·Σᵢ f̃ᵢ·pᵢ with fᵢ = countᵢ/(kT), null experts averaged, pᵢ the mean softmax probability.
func referenceMicroBatchLoss(_ logits: [Float], experts: Int, nulls: Int, k: Int, alpha: Double) -> Double {
    let total = experts + nulls
    let rows = logits.count / total
    var counts = [Double](repeating: 0, count: total)
    var p = [Double](repeating: 0, count: total)
    for t in 0..<rows {
        let x = (0..<total).map { Double(logits[t * total + $0]) }
        let m = x.max()!
        let e = x.map { exp($0 - m) }
        let s = e.reduce(0, +)
        for j in 0..<total { p[j] += e[j] / s / Double(rows) }
        let chosen = (0..<total).sorted { x[$0] > x[$1] || (x[$0] == x[$1] && $0 < $1) }.prefix(k)
        for j in chosen { counts[j] += 1 }
    }
    var f = counts.map { $0 / Double(k * rows) }
    if nulls > 0 {
        let shared = f[experts...].reduce(0, +) / Double(nulls)
        for j in experts..<total { f[j] = shared }
    }
    return alpha * Double(total) * zip(f, p).reduce(0) { $0 + $1.0 * $1.1 }
}

func close(_ a: Double, _ b: Double, rel: Double) -> Bool { abs(a - b) <= rel * max(abs(a), abs(b)) }
