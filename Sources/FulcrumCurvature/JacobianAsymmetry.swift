import FulcrumKernels

/// The Jacobian-asymmetry penalty of "Improving equilibrium propagation without weight symmetry
/// through Jacobian homeostasis" (Laborieux & Zenke): ‖J − Jᵀ‖²_F, estimated matrix-free as
/// E_v ‖J·v − Jᵀ·v‖² with probes E[v·vᵀ] = I (here Rademacher).
///
/// The penalty is zero exactly when J is symmetric, which is what equilibrium propagation needs
/// for its gradient estimate to be exact. One draw costs one JVP and one VJP.
public enum JacobianAsymmetry {
    /// E_v ‖J·v − Jᵀ·v‖² from `probes` Rademacher draws, with its standard error.
    ///
    /// - Parameters:
    ///   - dimension: n, the side of the square Jacobian.
    ///   - jvp: writes J·v into its second argument.
    ///   - vjp: writes Jᵀ·v into its second argument.
    /// - Throws: `FulcrumError.invalidParameter` for `dimension < 1` or `probes < 2`;
    ///   `nonFiniteValue` when a closure returns a NaN or infinity (argument `jvp` or `vjp`);
    ///   errors thrown by the closures pass through.
    @inlinable
    public static func estimate<T: FulcrumFloat, G: RandomNumberGenerator>(
        dimension: Int, probes: Int, using generator: inout G,
        jvp: (UnsafeBufferPointer<T>, UnsafeMutableBufferPointer<T>) throws -> Void,
        vjp: (UnsafeBufferPointer<T>, UnsafeMutableBufferPointer<T>) throws -> Void
    ) throws -> StochasticEstimate {
        guard dimension >= 1 else {
            throw FulcrumError.invalidParameter(argument: "dimension", value: "\(dimension)", requirement: ">= 1")
        }
        guard probes >= 2 else {
            throw FulcrumError.invalidParameter(argument: "probes", value: "\(probes)", requirement: ">= 2")
        }
        var v = [T](repeating: 0, count: dimension)
        var jv = v, jtv = v
        var draws: [Double] = []
        for _ in 0..<probes {
            v.withUnsafeMutableBufferPointer { RademacherProbes.fill($0.baseAddress!, count: dimension, using: &generator) }
            try v.withUnsafeBufferPointer { v in
                try jv.withUnsafeMutableBufferPointer { try jvp(v, $0) }
                try jtv.withUnsafeMutableBufferPointer { try vjp(v, $0) }
            }
            try jv.withUnsafeBufferPointer { try checkFinite($0.baseAddress!, count: dimension, argument: "jvp") }
            try jtv.withUnsafeBufferPointer { try checkFinite($0.baseAddress!, count: dimension, argument: "vjp") }
            var total = 0.0
            for i in 0..<dimension {
                let d = Double(jv[i]) - Double(jtv[i])
                total += d * d
            }
            draws.append(total)
        }
        return try StochasticEstimate(draws: draws)
    }

    /// ‖J − Jᵀ‖²_F of an explicit square matrix (the exact value the estimator targets),
    /// accumulated in Double: 2·Σ_{i>j} (Jᵢⱼ − Jⱼᵢ)².
    ///
    /// - Throws: `FulcrumError.shapeMismatch` unless `j` is square; `nonFiniteValue`.
    @specialized(where T == Float)
    @specialized(where T == Double)
    public static func exact<T: FulcrumFloat>(_ j: MatrixView<T>) throws -> Double {
        guard j.rows == j.columns else {
            throw FulcrumError.shapeMismatch(argument: "j", expected: "square", actual: j.shape)
        }
        for r in 0..<j.rows { try checkFinite(j.row(r), count: j.columns, argument: "j", row: r) }
        var total = 0.0
        for r in 0..<j.rows {
            for c in 0..<r {
                let d = Double(j[r, c]) - Double(j[c, r])
                total += 2 * d * d
            }
        }
        return total
    }
}
