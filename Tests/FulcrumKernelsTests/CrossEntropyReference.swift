import Foundation
import FulcrumKernels

/// The options of a cross-entropy call, in Double, for the plain reference below.
struct ReferenceOptions {
    var weights: [Double]?
    var smoothing = 0.0
    var zLoss = 0.0
    var softcap: Double?
    var temperature = 1.0
    var offsets: [Double]?
    var margins: [Double]?
    var gamma = 0.0
    var ignoreIndex: Int32 = -100
    var reduction: Reduction = .mean

    /// The same options as a kernel configuration.
    func kernel<T: FulcrumFloat>(_: T.Type, policy: NonFinitePolicy = .throwError) -> SoftmaxCrossEntropy<T> {
        SoftmaxCrossEntropy<T>(
            classWeights: weights?.map { T($0) }, labelSmoothing: T(smoothing), ignoreIndex: ignoreIndex,
            reduction: reduction, zLossCoefficient: T(zLoss), logitSoftcap: softcap.map { T($0) },
            temperature: T(temperature), classOffsets: offsets?.map { T($0) }, targetMargins: margins?.map { T($0) },
            focalGamma: T(gamma), nonFinitePolicy: policy)
    }
}

/// A plain, obviously-correct Double implementation of the documented loss, written from the
/// formulas (no shared code with the kernel).
enum CrossEntropyReference {
    /// One row: (loss ℓ, z-loss part, lse, argmax of z).
    static func row(_ x: [Double], target y: Int, excluded: [Bool]?, _ o: ReferenceOptions) -> (loss: Double, zLoss: Double, lse: Double, argmax: Int) {
        let c = x.count
        var z = [Double](repeating: 0, count: c)
        for j in 0..<c {
            var u = o.softcap.map { $0 * tanh(x[j] / $0) } ?? x[j]
            u += o.offsets?[j] ?? 0
            if j == y { u -= o.margins?[j] ?? 0 }
            z[j] = excluded?[j] == true ? -.infinity : u / o.temperature
        }
        let m = z.max()!
        let lse = m + log(z.reduce(0) { $0 + exp($1 - m) })
        let argmax = z.firstIndex(of: m)!
        let included = (0..<c).filter { excluded?[$0] != true }
        let w = { (j: Int) in o.weights?[j] ?? 1 }
        let k = Double(included.count)
        let smooth = included.reduce(0.0) { $0 + w($1) * (lse - z[$1]) }
        let ce = (1 - o.smoothing) * w(y) * (lse - z[y]) + o.smoothing / k * smooth
        let py = exp(z[y] - lse)
        let zl = o.zLoss * w(y) * lse * lse
        return (pow(1 - py, o.gamma) * ce + zl, zl, lse, argmax)
    }

    /// The reduced loss of a batch (rows as arrays), as the kernel documents it.
    static func total(_ x: [[Double]], _ targets: [Int32], excluded: [[Bool]]?, _ o: ReferenceOptions) -> Double {
        var sum = 0.0, weightSum = 0.0
        for n in x.indices where targets[n] != o.ignoreIndex {
            let y = Int(targets[n])
            sum += row(x[n], target: y, excluded: excluded?[n], o).loss
            weightSum += o.weights?[y] ?? 1
        }
        return o.reduction == .mean ? sum / weightSum : sum
    }

    /// dTotal/dx by central differences, step h·max(1, |x|).
    static func gradient(_ x: [[Double]], _ targets: [Int32], excluded: [[Bool]]?, _ o: ReferenceOptions, h: Double = 1e-5) -> [[Double]] {
        var g = x.map { $0.map { _ in 0.0 } }
        var probe = x
        for n in x.indices {
            for j in x[n].indices {
                let step = h * max(1, abs(x[n][j]))
                probe[n][j] = x[n][j] + step
                let up = total(probe, targets, excluded: excluded, o)
                probe[n][j] = x[n][j] - step
                let down = total(probe, targets, excluded: excluded, o)
                probe[n][j] = x[n][j]
                g[n][j] = (up - down) / (2 * step)
            }
        }
        return g
    }
}
