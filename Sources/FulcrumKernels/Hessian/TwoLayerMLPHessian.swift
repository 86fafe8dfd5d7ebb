#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The Hessian of a two-layer MLP with a softmax cross-entropy loss with respect to all of its
/// parameters, by Pearlmutter's R-operator ("Fast Exact Multiplication by the Hessian"), written
/// out explicitly.
///
/// **Model.** A₁ = X·W₁ᵀ + b₁ (N×H), Hd = σ(A₁), logits Z = Hd·W₂ᵀ + b₂ (N×C), loss
/// `SoftmaxCrossEntropy` (same supported options as `LinearHeadHessian`, whose operator on the
/// hidden activations this type reuses for the output layer). Parameters are flattened as
/// vec(W₁) (H·D), b₁ (H), vec(W₂) (C·H), b₂ (C).
///
/// **Product.** For a direction (V₁, v₁, V₂, v₂), with G = ∂L/∂Z (N×C) and δH = G·W₂ cached:
///
///     R{A₁} = X·V₁ᵀ + v₁,   R{Hd} = σ'(A₁)∘R{A₁},   R{Z} = R{Hd}·W₂ᵀ + Hd·V₂ᵀ + v₂
///     R{G} = a_n·(p∘R{Z} − p·(p·R{Z}))            (the linear head's row pass)
///     R{∇W₂} = R{G}ᵀ·Hd + Gᵀ·R{Hd},  R{∇b₂} = Σ_n R{G}
///     R{δH} = R{G}·W₂ + G·V₂,  R{δA₁} = σ''(A₁)∘R{A₁}∘δH + σ'(A₁)∘R{δH}
///     R{∇W₁} = R{δA₁}ᵀ·X,  R{∇b₁} = Σ_n R{δA₁}
///
/// Cost: 8 GEMMs per product (2·N·(2·H·D + 6·C·H) flops), plus element-wise passes. The Hessian
/// is indefinite in general (the hidden layer makes the loss non-convex).
public final class TwoLayerMLPHessian<T: FulcrumFloat>: LinearOperator, @unchecked Sendable {
    /// The element type.
    public typealias Scalar = T

    /// The hidden-layer nonlinearity σ.
    public enum Activation: Sendable, Equatable {
        /// max(0, x), with σ'(0) = 0 as in PyTorch; σ'' = 0.
        case relu
        /// tanh x: σ' = 1 − tanh², σ'' = −2·tanh·(1 − tanh²).
        case tanh
        /// x·Φ(x) with the exact normal CDF (PyTorch's default GELU): σ' = Φ + x·φ, σ'' = φ·(2 − x²).
        case gelu
    }

    /// N, D, H, C.
    public let samples: Int, inputs: Int, hidden: Int, classes: Int
    /// The nonlinearity.
    public let activation: Activation
    /// The output layer's Hessian operator on the hidden activations (P, curvature weights, G).
    public let head: LinearHeadHessian<T>
    /// H·D + H + C·H + C.
    public var dimension: Int { hidden * inputs + hidden + classes * hidden + classes }

    let x: [T], w2: [T]
    /// σ(A₁), σ'(A₁), σ''(A₁) (N×H each).
    let activations: [T], slopes: [T], curvatures: [T]
    /// G = ∂L/∂Z (N×C) and δH = G·W₂ (N×H).
    let logitGradient: [T], hiddenGradient: [T]

    /// Prepares the Hessian at (W₁, b₁, W₂, b₂) on inputs X (N×D) and targets.
    ///
    /// - Throws: `FulcrumError.shapeMismatch` naming the argument, `nonFiniteValue` for a NaN or
    ///   infinity in any input, `emptyReduction` for an empty dimension, and the errors of
    ///   `LinearHeadHessian.init` for the loss options and targets.
    @specialized(where T == Float)
    @specialized(where T == Double)
    public init(
        inputs x: MatrixView<T>, firstWeights w1: MatrixView<T>, firstBias b1: UnsafeBufferPointer<T>,
        secondWeights w2: MatrixView<T>, secondBias b2: UnsafeBufferPointer<T>, activation: Activation,
        targets: UnsafeBufferPointer<Int32>, loss: SoftmaxCrossEntropy<T> = SoftmaxCrossEntropy()
    ) throws {
        let (n, d, h, c) = (x.rows, x.columns, w1.rows, w2.rows)
        guard n > 0, d > 0, h > 0, c > 0 else {
            throw FulcrumError.emptyReduction(argument: "inputs", reason: "N = \(n), D = \(d), H = \(h), C = \(c)")
        }
        try checkShape(w1, rows: h, columns: d, argument: "firstWeights")
        try checkCount(b1.count, h, argument: "firstBias")
        try checkShape(w2, rows: c, columns: h, argument: "secondWeights")
        try requireFinite(x, argument: "inputs")
        try requireFinite(w1, argument: "firstWeights")
        if let j = b1.firstIndex(where: { !$0.isFinite }) { throw FulcrumError.nonFiniteValue(argument: "firstBias", row: j, column: 0) }
        try requireFinite(w2, argument: "secondWeights")
        try checkCount(b2.count, c, argument: "secondBias")
        if let j = b2.firstIndex(where: { !$0.isFinite }) { throw FulcrumError.nonFiniteValue(argument: "secondBias", row: j, column: 0) }
        (samples, inputs, hidden, classes, self.activation) = (n, d, h, c, activation)
        self.x = copyRows(x)
        self.w2 = copyRows(w2)
        var a1 = [T](repeating: 0, count: n * h)
        try self.x.withView(n, d) { xv in try a1.withMutableView(n, h) { try BLAS.gemm(xv, w1, transposeB: true, into: $0) } }
        var act = a1, slope = a1, curve = a1
        for i in 0..<n {
            for j in 0..<h {
                let (s0, s1, s2) = Self.evaluate(activation, a1[i * h + j] + b1[j])
                (act[i * h + j], slope[i * h + j], curve[i * h + j]) = (s0, s1, s2)
            }
        }
        (activations, slopes, curvatures) = (act, slope, curve)
        let outputLayer = try act.withView(n, h) { hv in
            try LinearHeadHessian(features: hv, weights: w2, bias: b2, targets: targets, loss: loss)
        }
        head = outputLayer
        var g = [T](repeating: 0, count: n * c)
        try g.withMutableView(n, c) { gv in
            try outputLayer.rowGradients(into: gv)
            for i in 0..<n { for j in 0..<c { gv[i, j] *= outputLayer.reductionScale } }
        }
        var dh = [T](repeating: 0, count: n * h)
        try g.withView(n, c) { gv in try dh.withMutableView(n, h) { try BLAS.gemm(gv, w2, into: $0) } }
        (logitGradient, hiddenGradient) = (g, dh)
    }

    /// σ(x), σ'(x), σ''(x).
    static func evaluate(_ activation: Activation, _ x: T) -> (T, T, T) {
        switch activation {
        case .relu:
            return x > 0 ? (x, 1, 0) : (0, 0, 0)
        case .tanh:
            let t = T.tanh(x)
            return (t, 1 - t * t, -2 * t * (1 - t * t))
        case .gelu:
            let v = Double(x)
            let cdf = 0.5 * (1 + erf(v / 2.0.squareRoot()))
            let pdf = exp(-0.5 * v * v) / (2 * Double.pi).squareRoot()
            return (T(v * cdf), T(cdf + v * pdf), T(pdf * (2 - v * v)))
        }
    }

    /// The gradient of the loss with respect to the flattened parameters.
    ///
    /// - Throws: `FulcrumError.shapeMismatch` unless `gradient` holds `dimension` elements.
    @specialized(where T == Float)
    @specialized(where T == Double)
    public func gradient(into gradient: UnsafeMutableBufferPointer<T>) throws {
        try checkCount(gradient.count, dimension, argument: "gradient")
        let da1 = zip(slopes, hiddenGradient).map { $0 * $1 }
        try write(gradient, firstWeights: da1, secondRows: logitGradient, secondWeightsExtra: nil, hiddenRows: activations)
    }

    /// y ← H·v for one flattened direction.
    ///
    /// - Throws: `FulcrumError.shapeMismatch` for wrong lengths, `nonFiniteValue(argument: "x")`.
    @specialized(where T == Float)
    @specialized(where T == Double)
    public func apply(_ v: UnsafeBufferPointer<T>, into y: UnsafeMutableBufferPointer<T>) throws {
        try checkCount(v.count, dimension, argument: "x")
        try checkCount(y.count, dimension, argument: "y")
        if let j = v.firstIndex(where: { !$0.isFinite }) { throw FulcrumError.nonFiniteValue(argument: "x", row: 0, column: j) }
        let (n, d, h, c) = (samples, inputs, hidden, classes)
        let base = v.baseAddress!
        let v1 = MatrixView(unchecked: base, rows: h, columns: d, rowStride: d)
        let vb1 = base + h * d
        let v2 = MatrixView(unchecked: base + h * d + h, rows: c, columns: h, rowStride: h)
        let vb2 = base + h * d + h + c * h
        // Forward: R{A₁}, R{Hd}, R{Z}.
        var ra1 = [T](repeating: 0, count: n * h)
        try x.withView(n, d) { xv in try ra1.withMutableView(n, h) { try BLAS.gemm(xv, v1, transposeB: true, into: $0) } }
        for i in 0..<n { for j in 0..<h { ra1[i * h + j] += vb1[j] } }
        let rh = zip(slopes, ra1).map { $0 * $1 }
        var rz = [T](repeating: 0, count: n * c)
        try rz.withMutableView(n, c) { rzv in
            try rh.withView(n, h) { rhv in try w2.withView(c, h) { try BLAS.gemm(rhv, $0, transposeB: true, into: rzv) } }
            try activations.withView(n, h) { try BLAS.gemm($0, v2, transposeB: true, into: rzv, beta: 1) }
            for i in 0..<n { for j in 0..<c { rzv[i, j] += vb2[j] } }
            // R{G}: the head's Hessian row pass, in place.
            head.probabilityStorage.withUnsafeBufferPointer { p in
                for i in 0..<n {
                    head.hessianRow(p.baseAddress! + i * c, rzv.row(i), bias: nil, weight: head.curvatureWeights[i], count: c, sums: nil)
                }
            }
        }
        // Backward: R{δH} = R{G}·W₂ + G·V₂, R{δA₁}.
        var rdh = [T](repeating: 0, count: n * h)
        try rdh.withMutableView(n, h) { out in
            try rz.withView(n, c) { rg in try w2.withView(c, h) { try BLAS.gemm(rg, $0, into: out) } }
            try logitGradient.withView(n, c) { try BLAS.gemm($0, v2, into: out, beta: 1) }
        }
        var rda1 = [T](repeating: 0, count: n * h)
        for q in 0..<(n * h) { rda1[q] = curvatures[q] * ra1[q] * hiddenGradient[q] + slopes[q] * rdh[q] }
        try write(y, firstWeights: rda1, secondRows: rz, secondWeightsExtra: rh, hiddenRows: activations)
    }

    /// Writes (Dᵀ·X, Σ D, Sᵀ·Hd (+ Gᵀ·E), Σ S) into the flattened `out`, with D = `firstWeights`
    /// (N×H), S = `secondRows` (N×C) and E = `secondWeightsExtra` (N×H, optional).
    func write(_ out: UnsafeMutableBufferPointer<T>, firstWeights da1: [T], secondRows s: [T], secondWeightsExtra e: [T]?,
               hiddenRows hd: [T]) throws {
        let (n, d, h, c) = (samples, inputs, hidden, classes)
        let base = out.baseAddress!
        try da1.withView(n, h) { dv in
            try x.withView(n, d) { xv in
                try BLAS.gemm(dv, transposeA: true, xv, into: MutableMatrixView(unchecked: base, rows: h, columns: d, rowStride: d))
            }
            let sums = deterministicColumnSums(dv)
            for j in 0..<h { base[h * d + j] = sums[j] }
        }
        let w2out = MutableMatrixView(unchecked: base + h * d + h, rows: c, columns: h, rowStride: h)
        try s.withView(n, c) { sv in
            try hd.withView(n, h) { try BLAS.gemm(sv, transposeA: true, $0, into: w2out) }
            let sums = deterministicColumnSums(sv)
            for j in 0..<c { base[h * d + h + c * h + j] = sums[j] }
        }
        if let e {
            try logitGradient.withView(n, c) { gv in try e.withView(n, h) { try BLAS.gemm(gv, transposeA: true, $0, into: w2out, beta: 1) } }
        }
    }
}
