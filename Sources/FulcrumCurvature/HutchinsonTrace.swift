import FulcrumKernels

/// Hutchinson's stochastic trace estimator: tr(A) = E[vᵀ·A·v] for Rademacher v (independent ±1
/// entries), the estimator PyHessian and "ADAHESSIAN"-style methods use for the Hessian trace.
///
/// Each probe costs one operator application (`batchSize` probes share one batched application);
/// the draws vᵀAv are averaged and their standard error s/√m is returned with the mean. The
/// variance of one Rademacher draw is 2·Σ_{i≠j} A²ᵢⱼ (the diagonal contributes nothing), so a
/// nearly diagonal operator needs few probes.
public enum HutchinsonTrace {
    /// The trace estimate of `a` from `probes` Rademacher probes drawn from `generator`.
    ///
    /// - Parameters:
    ///   - probes: number of probes m ≥ 2 (the error bar needs two).
    ///   - batchSize: probes per batched application (memory: 2·batchSize·dimension elements).
    /// - Throws: `FulcrumError.invalidParameter` for `probes < 2` or `batchSize < 1`,
    ///   `nonFiniteValue` when the operator returns a NaN or infinity (argument `operator`), and
    ///   `invalidParameter` naming `operator` when a draw vᵀAv overflows its scalar type.
    @inlinable
    public static func estimate<Op: LinearOperator, G: RandomNumberGenerator>(
        of a: Op, probes: Int, batchSize: Int = 4, using generator: inout G
    ) throws -> StochasticEstimate {
        guard probes >= 2 else {
            throw FulcrumError.invalidParameter(argument: "probes", value: "\(probes)", requirement: ">= 2")
        }
        guard batchSize >= 1 else {
            throw FulcrumError.invalidParameter(argument: "batchSize", value: "\(batchSize)", requirement: ">= 1")
        }
        var draws: [Double] = []
        try forEachProbeBatch(of: a, probes: probes, batchSize: batchSize, using: &generator) { v, av, row in
            let draw = VectorArithmetic.dot(v, av, count: a.dimension)
            // Finite products whose partial sums (in the operator's scalar) overflow.
            guard draw.isFinite else {
                throw FulcrumError.invalidParameter(argument: "operator", value: "probe \(draws.count)",
                                                    requirement: "vᵀAv within the range of \(Op.Scalar.self)")
            }
            draws.append(draw)
        }
        return try StochasticEstimate(draws: draws)
    }

    /// Draws `probes` Rademacher vectors in batches, applies `a` to each batch and calls
    /// `body(v, A·v, probeIndex)` for every probe in order.
    @inlinable
    static func forEachProbeBatch<Op: LinearOperator, G: RandomNumberGenerator>(
        of a: Op, probes: Int, batchSize: Int, using generator: inout G,
        _ body: (UnsafePointer<Op.Scalar>, UnsafePointer<Op.Scalar>, Int) throws -> Void
    ) throws {
        let n = a.dimension
        let k = min(batchSize, probes)
        var v = try Matrix<Op.Scalar>(rows: k, columns: n, repeating: 0)
        var av = v
        var done = 0
        while done < probes {
            let rows = min(k, probes - done)
            v.withMutableView { v in
                for i in 0..<rows { RademacherProbes.fill(v.row(i), count: n, using: &generator) }
            }
            try v.withView { v in
                try av.withMutableView { av in
                    try a.apply(v.rows(0..<rows), into: av.rows(0..<rows))
                    for i in 0..<rows {
                        try checkFinite(UnsafePointer(av.row(i)), count: n, argument: "operator")
                        try body(v.row(i), UnsafePointer(av.row(i)), done + i)
                    }
                }
            }
            done += rows
        }
    }
}
