import Testing
import FulcrumKernels
@testable import FulcrumCurvature

/// The estimators' vector reductions use fixed blocks: with an operator that does not call BLAS,
/// every output is bitwise the same with 1 and 2 threads.
@Suite(.serialized) struct CurvatureThreadTests {
    @Test func bitwiseIdenticalWithOneAndTwoThreads() throws {
        let n = 100_003  // several reduction blocks and a ragged tail
        var g = SplitMix64(seed: 50)
        let diagonal = (0..<n).map { _ in Float(g.uniform(0, 1)) }
        let u = (0..<n).map { _ in Float(g.uniform(-1, 1)) / 100 }
        // A = diag(d) + 3·u·uᵀ, applied without BLAS.
        let op = try ClosureOperator<Float>(dimension: n) { x, y in
            var dot: Double = 0
            for i in 0..<n { dot += Double(u[i]) * Double(x[i]) }
            for i in 0..<n { y[i] = diagonal[i] * x[i] + Float(3 * dot) * u[i] }
        }
        let gradients = try Matrix<Float>(rows: 3, columns: n, elements: diagonal + u + diagonal.map { $0 - 0.5 })
        let saved = Threads.count
        defer { try? Threads.setCount(saved) }
        var results: [[Double]] = []
        for threads in [1, 2] {
            try Threads.setCount(threads)
            var r = SplitMix64(seed: 51)
            let lanczos = try Lanczos.eigenpairs(of: op, count: 2, steps: 8, using: &r)
            let power = try PowerIteration.eigenpairs(of: op, count: 1, maxIterations: 5, using: &r)
            let trace = try HutchinsonTrace.estimate(of: op, probes: 3, using: &r)
            let density = try SpectralDensity(of: op, steps: 4, runs: 2, using: &r)
            let coherence = try gradients.withView { try GradientCoherence.coherence(of: $0) }
            results.append(lanczos.values.map(Double.init) + lanczos.vectors.storage.map(Double.init)
                           + power.values.map(Double.init) + power.vectors.storage.map(Double.init)
                           + [trace.estimate, trace.standardError] + density.nodes + density.weights + [coherence])
        }
        let same = results[0] == results[1]
        #expect(same)
    }
}
