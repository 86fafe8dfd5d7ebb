import Foundation
import Testing
import FulcrumKernels
import FulcrumCurvature

/// The README's curvature example, run as a test: the printed lines are the ones quoted there.
@Suite struct ReadmeExampleTests {
    @Test func curvatureOfASmallHead() throws {
        // 240 points in 2-D from three classes on a circle, a linear head W (3×2) and b (3).
        let n = 240
        var features: [Float] = [], targets: [Int32] = []
        for i in 0..<n {
            let cls = i % 3
            let angle = 2.0944 * Float(cls) + 0.9 * sin(Float(i) * 12.9898)
            features += [cos(angle) * (1 + 0.3 * sin(Float(i) * 78.233)), sin(angle)]
            targets.append(Int32(cls))
        }
        let weights: [Float] = [1, 0, -0.5, 0.8, -0.5, -0.8]
        let bias: [Float] = [0.1, 0, -0.1]
        let hessian = try features.withUnsafeBufferPointer { f in
            try weights.withUnsafeBufferPointer { w in
                try bias.withUnsafeBufferPointer { b in
                    try targets.withUnsafeBufferPointer { t in
                        try LinearHeadHessian(features: MatrixView(f, rows: n, columns: 2), weights: MatrixView(w, rows: 3, columns: 2),
                                              bias: b, targets: t)
                    }
                }
            }
        }
        let dim = hessian.dimension  // 3·2 + 3 = 9 parameters

        // Exact spectrum, for comparison: H column by column, then LAPACK.
        var h = try Matrix<Float>(rows: dim, columns: dim, repeating: 0)
        for j in 0..<dim {
            var e = [Float](repeating: 0, count: dim), column = e
            e[j] = 1
            try e.withUnsafeBufferPointer { x in try column.withUnsafeMutableBufferPointer { try hessian.apply(x, into: $0) } }
            for i in 0..<dim { h[i, j] = column[i] }
        }
        var exact = [Float](repeating: 0, count: dim)
        try h.withMutableView { m in try exact.withUnsafeMutableBufferPointer { try LAPACK.symmetricEigen(m, eigenvalues: $0, vectors: false) } }

        var generator = SplitMix64(seed: 2024)
        let top = try Lanczos.eigenpairs(of: hessian, count: 1, steps: 6, using: &generator)
        let trace = try HutchinsonTrace.estimate(of: hessian, probes: 400, using: &generator)
        let density = try SpectralDensity(of: hessian, steps: 6, runs: 200, using: &generator)
        let exactTrace = exact.reduce(0, +)
        print("top eigenvalue   \(top.values[0])   exact \(exact.last!)")
        print("trace            \(trace.estimate) ± \(trace.standardError)   exact \(exactTrace)")
        print("mean eigenvalue  \(try density.moment(1))   exact \(exactTrace / Float(dim))")
        // The density, Gaussian-broadened (σ = 0.02), next to the same broadening of the exact spectrum.
        for t in [0.0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3] {
            let reference = exact.map { e -> Double in
                let u = (t - Double(e)) / 0.02
                return exp(-0.5 * u * u) / (0.02 * (2 * Double.pi).squareRoot()) / Double(dim)
            }.reduce(0, +)
            print("density(\(t))  \(try density.density(at: t, sigma: 0.02))   exact \(reference)")
        }
        #expect(abs(top.values[0] - exact.last!) < 1e-5 * exact.last!)
        #expect(abs(trace.estimate - Double(exactTrace)) < 4 * trace.standardError)
    }
}
