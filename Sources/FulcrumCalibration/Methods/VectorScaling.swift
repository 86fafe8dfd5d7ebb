import FulcrumKernels

/// Vector scaling ("On Calibration of Modern Neural Networks", Sec. 4.2): a per-class scale and
/// bias on the logits, zᵢⱼ = wⱼ·xᵢⱼ + bⱼ, fitted to minimise the validation NLL of softmax(z).
/// It generalises temperature scaling (wⱼ = 1/T, b = 0) with 2C parameters.
///
/// **Fit.** L-BFGS (memory 10, Armijo backtracking) from w = 1, b = 0. Each evaluation is one
/// fused sweep per row (`VectorScalingObjective`): z = w∘x + b and its exponentials in an L1
/// scratch row, then dNLL/dwⱼ = Σᵢ (pᵢⱼ − δ)·xᵢⱼ and dNLL/dbⱼ = Σᵢ (pᵢⱼ − δ) added per class,
/// over fixed row blocks in Double (deterministic). Cost per evaluation O(n·C), no n×C scratch.
public struct VectorScaling: Sendable {
    /// Per-class scales w.
    public let scales: [Double]
    /// Per-class biases b (defined up to a common shift: softmax ignores it).
    public let biases: [Double]
    /// NLL at the fitted parameters (each row's term from Float sweeps, summed in Double).
    public let negativeLogLikelihood: Double
    /// L-BFGS iterations used.
    public let iterations: Int

    /// Fits w and b on validation `logits` (n×C) and `labels` (n, in `0..<C`).
    ///
    /// - Throws: the errors of `TemperatureScaling.init`.
    public init(logits: MatrixView<Float>, labels: UnsafeBufferPointer<Int32>, maxIterations: Int = 200) throws {
        guard maxIterations >= 1 else {
            throw FulcrumError.invalidParameter(argument: "maxIterations", value: "\(maxIterations)", requirement: ">= 1")
        }
        try checkLength(labels.count, logits.rows, argument: "labels")
        guard logits.rows > 0 else { throw FulcrumError.emptyReduction(argument: "logits", reason: "no sample") }
        try checkLabels(labels, classCount: logits.columns)
        let c = logits.columns
        let objective = VectorScalingObjective(logits: logits, labels: labels)
        let start = [Double](repeating: 1, count: c) + [Double](repeating: 0, count: c)
        let (theta, value, iterations) = try minimizeLBFGS(start, maxIterations: maxIterations) { try objective.evaluate($0) }
        scales = Array(theta[..<c])
        biases = Array(theta[c...])
        negativeLogLikelihood = value
        self.iterations = iterations
    }

    /// Writes softmax(w∘x + b) of each row of `logits` into `probabilities` (n×C).
    ///
    /// - Throws: `shapeMismatch` naming `logits` or `probabilities`; `nonFiniteValue` naming `logits`.
    public func probabilities(logits: MatrixView<Float>, into probabilities: MutableMatrixView<Float>) throws {
        guard logits.columns == scales.count else {
            throw FulcrumError.shapeMismatch(argument: "logits", expected: "\(scales.count) columns", actual: logits.shape)
        }
        let z = LargeBuffer<Float>(count: logits.rows * logits.columns)
        let zv = MutableMatrixView(unchecked: z.pointer, rows: logits.rows, columns: logits.columns, rowStride: logits.columns)
        transform(logits, scales + biases, into: zv)
        try withExtendedLifetime(z) { try calibratedProbabilities(logits: MatrixView(zv), temperature: 1, into: probabilities) }
    }
}

/// z = w∘x + b row by row (θ = w followed by b).
func transform(_ x: MatrixView<Float>, _ theta: [Double], into z: MutableMatrixView<Float>) {
    let c = x.columns
    let w = theta[..<c].map { Float($0) }, b = theta[c...].map { Float($0) }
    Threads.forEachBlock(count: x.rows, blockSize: max(1, (1 << 15) / max(1, c))) { _, range in
        for i in range {
            let (xi, zi) = (x.row(i), z.row(i))
            for j in 0..<c { zi[j] = w[j] * xi[j] + b[j] }
        }
    }
}

/// NLL of softmax(w∘x + b) and its gradient in (w, b), from one fused sweep per row.
struct VectorScalingObjective {
    let logits: MatrixView<Float>
    let labels: UnsafeBufferPointer<Int32>

    /// Rows whose Float sums of pⱼ·xⱼ and pⱼ are added into the block's Double sums at once.
    static let rowsPerFlush = 16

    /// NLL and its gradient (dNLL/dw then dNLL/db) at θ = (w, b): +∞ when w∘x + b overflows Float
    /// for finite logits (a trial step too long; the line search then shortens it).
    ///
    /// Per row: one sweep forms z = w∘x + b and e^{z − z_y} into an L1 scratch row (a second
    /// sweep shifts by the row maximum when it is more than 64 above z_y), then one pass adds
    /// pⱼ·xⱼ and pⱼ into per-class Float sums, flushed into Double every `rowsPerFlush` rows;
    /// the target's −x_y and −1 go to the Double sums directly. Fixed row blocks added in order:
    /// the same result for any thread count. O(n·C), no n×C scratch.
    ///
    /// - Throws: `nonFiniteValue` naming `logits` at the first (row, column) holding NaN or ±∞.
    func evaluate(_ theta: [Double]) throws -> (Double, [Double]) {
        let (n, c) = (logits.rows, logits.columns)
        let parameters = theta.map { Float($0) }
        let rowsPerBlock = max(1, (1 << 15) / max(1, c))
        let blocks = (n + rowsPerBlock - 1) / rowsPerBlock
        // Per block: the loss, then the 2C gradient sums.
        let stride = 1 + 2 * c
        var partial = [Double](repeating: 0, count: blocks * stride)
        var failures = [VectorScalingFailure?](repeating: nil, count: blocks)
        let (logits, labels) = (self.logits, self.labels)
        parameters.withUnsafeBufferPointer { parameters in
            partial.withUnsafeMutableBufferPointer { partial in
                failures.withUnsafeMutableBufferPointer { failures in
                    Threads.forEachBlock(count: n, blockSize: rowsPerBlock) { block, range in
                        let out = partial.baseAddress! + block * stride
                        failures[block] = vectorScalingBlock(logits, labels, rows: range, scales: parameters.baseAddress!,
                                                             biases: parameters.baseAddress! + c, into: out)
                    }
                }
            }
        }
        var total = [Double](repeating: 0, count: stride)
        for block in 0..<blocks {
            switch failures[block] {
            case .nonFinite(let row, let column)?: throw FulcrumError.nonFiniteValue(argument: "logits", row: row, column: column)
            case .overflow?: return (.infinity, [Double](repeating: 0, count: 2 * c))
            case nil: for k in 0..<stride { total[k] += partial[block * stride + k] }
            }
        }
        let count = Double(n)
        return (total[0] / count, total[1...].map { $0 / count })
    }
}

/// Why a block of rows stopped.
enum VectorScalingFailure {
    /// A logit is NaN or ±∞.
    case nonFinite(row: Int, column: Int)
    /// w∘x + b left Float's range for finite logits.
    case overflow
}

/// Adds a block's loss and gradient sums into `out` (1 + 2C Doubles, zeroed); returns why it
/// stopped early, if it did. See `VectorScalingObjective.evaluate`.
private func vectorScalingBlock(
    _ logits: MatrixView<Float>, _ labels: UnsafeBufferPointer<Int32>, rows: Range<Int>,
    scales w: UnsafePointer<Float>, biases b: UnsafePointer<Float>, into out: UnsafeMutablePointer<Double>
) -> VectorScalingFailure? {
    let c = logits.columns
    // The row's exponentials, then the Float sums of pⱼ·xⱼ and of pⱼ.
    let scratch = UnsafeMutablePointer<Float>.allocate(capacity: 3 * c)
    defer { scratch.deallocate() }
    let (exponentials, weighted, plain) = (scratch, scratch + c, scratch + 2 * c)
    weighted.initialize(repeating: 0, count: 2 * c)
    func flush() {
        for j in 0..<c {
            out[1 + j] += Double(weighted[j])
            out[1 + c + j] += Double(plain[j])
        }
        weighted.update(repeating: 0, count: 2 * c)
    }
    var pending = 0
    for i in rows {
        let x = logits.row(i), y = Int(labels[i])
        switch scaledRowExponentials(x, classes: c, scales: w, biases: b, target: y, into: exponentials) {
        case .nonFinite: return .nonFinite(row: i, column: (0..<c).first { !x[$0].isFinite } ?? 0)
        case .overflow: return .overflow
        case .terms(let shiftedLoss, let partition):
            out[0] += shiftedLoss + Double.log(partition)
            let inverse = Float.Vector(repeating: Float(1 / partition))
            let (stored, sumsOfProducts, sums) = (UnsafePointer(exponentials), UnsafePointer(weighted), UnsafePointer(plain))
            forEachVector(Float.self, from: 0, to: c) { j, count in
                let p = stored.loadVector(at: j, count: count) * inverse
                weighted.storeVector(Float.multiplyAdd(p, x.loadVector(at: j, count: count), sumsOfProducts.loadVector(at: j, count: count)),
                                     at: j, count: count)
                plain.storeVector(sums.loadVector(at: j, count: count) + p, at: j, count: count)
            }
            out[1 + y] -= Double(x[y])
            out[1 + c + y] -= 1
        }
        pending += 1
        if pending == VectorScalingObjective.rowsPerFlush {
            flush()
            pending = 0
        }
    }
    flush()
    return nil
}

/// What one row's sweep found.
enum ScaledRowTerms {
    /// The row's NLL is `shiftedLoss` + log `partition`.
    case terms(shiftedLoss: Double, partition: Double)
    /// A logit is NaN or ±∞.
    case nonFinite
    /// A finite logit's w·x + b is ±∞ (or the partition overflowed).
    case overflow
}

/// Writes eⱼ = e^{zⱼ − shift}, z = w∘x + b, into `exponentials` and returns the row's terms: the
/// shift is z_y (one sweep that also takes the maximum and probes x for NaN and ±∞), or the
/// maximum when it is more than 64 above z_y (a second sweep), as in the temperature fit.
@inline(__always)
private func scaledRowExponentials(
    _ x: UnsafePointer<Float>, classes c: Int, scales w: UnsafePointer<Float>, biases b: UnsafePointer<Float>, target y: Int,
    into exponentials: UnsafeMutablePointer<Float>
) -> ScaledRowTerms {
    @inline(__always) func scaled(_ j: Int, _ count: Int) -> Float.Vector {
        Float.multiplyAdd(w.loadVector(at: j, count: count), x.loadVector(at: j, count: count), b.loadVector(at: j, count: count))
    }
    // z_y by the lanes' own operation, so that e^{z_y − z_y} is exactly 1.
    let target = Float.multiplyAdd(Float.Vector(repeating: w[y]), Float.Vector(repeating: x[y]), Float.Vector(repeating: b[y]))[0]
    @inline(__always) func sweep(shift: Float) -> (partition: Double, maximum: Float, probe: Float) {
        let origin = Float.Vector(repeating: shift)
        var high = Float.Vector(repeating: -.infinity), probe = Float.Vector()
        let partition = chunkedSum(Float.self, from: 0, to: c) { j, count in
            probe = Float.multiplyAdd(x.loadVector(at: j, count: count), Float.Vector(), probe)
            let z = scaled(j, count)
            var e = Float.exponentialOfShift(z - origin)
            if count < Float.vectorWidth {
                e = Float.keepingLanes(below: count, of: e, fill: 0)
                high = Float.maximum(high, Float.keepingLanes(below: count, of: z, fill: -.infinity))
            } else {
                high = Float.maximum(high, z)
            }
            exponentials.storeVector(e, at: j, count: count)
            return e
        }
        return (partition, Float.largestLane(high), Float.sumOfLanes(probe))
    }
    var result = sweep(shift: target)
    guard result.probe == 0 else { return .nonFinite }
    guard target.isFinite, result.maximum.isFinite else { return .overflow }
    var shift = target
    if Double(result.maximum) - Double(target) > 64 {
        shift = result.maximum
        result = sweep(shift: shift)
    }
    guard result.partition.isFinite else { return .overflow }
    return .terms(shiftedLoss: Double(shift) - Double(target), partition: result.partition)
}

/// Limited-memory BFGS (two-loop recursion, memory 10) with Armijo backtracking. Stops when the
/// largest gradient component is below 10⁻⁶, when an iteration lowers the value by less than
/// 10⁻⁹ relative (the resolution of a Float loss), when the line search cannot decrease the
/// value, or after `maxIterations`. Returns the point, its value and the iterations used.
func minimizeLBFGS(
    _ start: [Double], maxIterations: Int, _ f: ([Double]) throws -> (Double, [Double])
) rethrows -> ([Double], Double, Int) {
    var x = start
    var (value, g) = try f(x)
    var history: [(s: [Double], y: [Double], rho: Double)] = []
    func dot(_ a: [Double], _ b: [Double]) -> Double { zip(a, b).reduce(0) { $0 + $1.0 * $1.1 } }
    var iteration = 0
    while iteration < maxIterations, g.map(abs).max()! > 1e-6 {
        iteration += 1
        // Two-loop recursion: direction = −H·g.
        var q = g
        var alphas: [Double] = []
        for entry in history.reversed() {
            let a = entry.rho * dot(entry.s, q)
            alphas.append(a)
            for k in q.indices { q[k] -= a * entry.y[k] }
        }
        if let last = history.last {
            let gamma = dot(last.s, last.y) / dot(last.y, last.y)
            for k in q.indices { q[k] *= gamma }
        }
        for (entry, a) in zip(history, alphas.reversed()) {
            let b = entry.rho * dot(entry.y, q)
            for k in q.indices { q[k] += entry.s[k] * (a - b) }
        }
        var direction = q.map { -$0 }
        var slope = dot(g, direction)
        if slope >= 0 {  // not a descent direction: restart with steepest descent
            history.removeAll()
            direction = g.map { -$0 }
            slope = dot(g, direction)
        }
        var step = history.isEmpty ? min(1, 1 / max(1e-12, g.map(abs).max()!)) : 1
        var accepted: ([Double], Double, [Double])?
        for _ in 0..<30 {
            let candidate = zip(x, direction).map { $0 + step * $1 }
            let (v, gv) = try f(candidate)
            if v <= value + 1e-4 * step * slope {
                accepted = (candidate, v, gv)
                break
            }
            step /= 2
        }
        guard let (next, nextValue, nextGradient) = accepted else { break }
        let stalled = value - nextValue <= 1e-9 * max(1, abs(value))
        let s = zip(next, x).map { $0 - $1 }, y = zip(nextGradient, g).map { $0 - $1 }
        let sy = dot(s, y)
        if sy > 1e-16 {
            history.append((s, y, 1 / sy))
            if history.count > 10 { history.removeFirst() }
        }
        (x, value, g) = (next, nextValue, nextGradient)
        if stalled { break }
    }
    return (x, value, iteration)
}
