import FulcrumKernels

/// Vector scaling ("On Calibration of Modern Neural Networks", Sec. 4.2): a per-class scale and
/// bias on the logits, zᵢⱼ = wⱼ·xᵢⱼ + bⱼ, fitted to minimise the validation NLL of softmax(z).
/// It generalises temperature scaling (wⱼ = 1/T, b = 0) with 2C parameters.
///
/// **Fit.** L-BFGS (memory 10, Armijo backtracking) from w = 1, b = 0. Each evaluation forms z
/// in an n×C Float scratch buffer, calls the fused `SoftmaxCrossEntropy` kernel for the NLL and
/// G = dNLL/dz, and reduces dNLL/dwⱼ = Σᵢ Gᵢⱼ·xᵢⱼ and dNLL/dbⱼ = Σᵢ Gᵢⱼ over fixed row blocks in
/// Double (deterministic). Cost per evaluation O(n·C).
public struct VectorScaling: Sendable {
    /// Per-class scales w.
    public let scales: [Double]
    /// Per-class biases b (defined up to a common shift: softmax ignores it).
    public let biases: [Double]
    /// NLL at the fitted parameters (the kernel's Float loss).
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

/// NLL of softmax(w∘x + b) and its gradient in (w, b).
struct VectorScalingObjective {
    let logits: MatrixView<Float>
    let labels: UnsafeBufferPointer<Int32>
    let z: LargeBuffer<Float>
    let gradient: LargeBuffer<Float>

    init(logits: MatrixView<Float>, labels: UnsafeBufferPointer<Int32>) {
        self.logits = logits
        self.labels = labels
        z = LargeBuffer<Float>(count: logits.rows * logits.columns)
        gradient = LargeBuffer<Float>(count: logits.rows * logits.columns)
    }

    func evaluate(_ theta: [Double]) throws -> (Double, [Double]) {
        let (n, c) = (logits.rows, logits.columns)
        let zv = MutableMatrixView(unchecked: z.pointer, rows: n, columns: c, rowStride: c)
        let g = MutableMatrixView(unchecked: gradient.pointer, rows: n, columns: c, rowStride: c)
        transform(logits, theta, into: zv)
        let result = try SoftmaxCrossEntropy<Float>().lossAndGradient(logits: MatrixView(zv), targets: labels, gradient: g)
        let rowsPerBlock = max(1, (1 << 15) / max(1, c))
        let blocks = (n + rowsPerBlock - 1) / rowsPerBlock
        var partial = [Double](repeating: 0, count: blocks * 2 * c)
        partial.withUnsafeMutableBufferPointer { partial in
            Threads.forEachBlock(count: n, blockSize: rowsPerBlock) { block, range in
                let out = partial.baseAddress! + block * 2 * c
                for i in range {
                    let (x, gi) = (logits.row(i), g.row(i))
                    for j in 0..<c {
                        out[j] += Double(gi[j]) * Double(x[j])
                        out[c + j] += Double(gi[j])
                    }
                }
            }
        }
        var total = [Double](repeating: 0, count: 2 * c)
        for block in 0..<blocks { for k in 0..<(2 * c) { total[k] += partial[block * 2 * c + k] } }
        return (Double(result.loss), total)
    }
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
