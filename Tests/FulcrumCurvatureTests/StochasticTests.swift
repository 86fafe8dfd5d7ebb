import Testing
import FulcrumKernels
@testable import FulcrumCurvature

@Suite struct HutchinsonTraceTests {
    @Test func withinThreeStandardErrorsOverManySeeds() throws {
        var g = SplitMix64(seed: 10)
        let n = 30
        let a = symmetricMatrix(spectrum: (0..<n).map { _ in g.uniform(-1, 3) }, &g)
        let trace = (0..<n).reduce(0.0) { $0 + a[$1, $1] }
        let op = try a.withView { try SymmetricMatrixOperator($0) }
        var z: [Double] = []
        for seed in 0..<300 {
            var probes = SplitMix64(seed: 1000 + UInt64(seed))
            let e = try HutchinsonTrace.estimate(of: op, probes: 40, batchSize: 7, using: &probes)
            #expect(e.samples == 40)
            z.append((e.estimate - trace) / e.standardError)
        }
        // If the error bar were wrong by a factor 2 either way, the spread of z would be off by 4×.
        let outside = z.filter { abs($0) > 3 }.count
        let variance = z.map { $0 * $0 }.reduce(0, +) / Double(z.count)
        #expect(outside <= 4)  // expected ≈ 0.8 of 300 for t with 39 degrees of freedom
        #expect(variance > 0.75 && variance < 1.35)
    }

    @Test func overflowingDrawThrows() throws {
        // Finite products 3e38·vᵢ whose sum vᵀAv overflows Float: the estimate was +∞.
        let huge = try ClosureOperator<Float>(dimension: 64) { x, y in for i in 0..<64 { y[i] = 3e38 * x[i] } }
        var g = SplitMix64(seed: 16)
        #expect(throws: FulcrumError.invalidParameter(argument: "operator", value: "probe 0", requirement: "vᵀAv within the range of Float")) {
            try HutchinsonTrace.estimate(of: huge, probes: 4, using: &g)
        }
    }

    @Test func exactForDiagonalMatrix() throws {
        // vᵀ·D·v = Σ dᵢ·vᵢ² = tr(D) for every ±1 probe: estimate exact, error bar 0.
        var d = try Matrix<Double>(rows: 4, columns: 4, repeating: 0)
        for (i, x) in [1.5, -2.0, 3.25, 0.5].enumerated() { d[i, i] = x }
        let op = try d.withView { try SymmetricMatrixOperator($0) }
        var g = SplitMix64(seed: 11)
        let e = try HutchinsonTrace.estimate(of: op, probes: 5, using: &g)
        #expect(e.estimate == 3.25)  // 1.5 − 2 + 3.25 + 0.5
        #expect(e.standardError == 0)
        #expect(throws: FulcrumError.self) { try HutchinsonTrace.estimate(of: op, probes: 1, using: &g) }
        #expect(throws: FulcrumError.self) { try HutchinsonTrace.estimate(of: op, probes: 3, batchSize: 0, using: &g) }
    }

    @Test func estimateNeedsTwoDraws() throws {
        // The mean of no draw and the standard error of one were NaN.
        #expect(throws: FulcrumError.invalidParameter(argument: "draws", value: "0 draws", requirement: "at least 2")) {
            try StochasticEstimate(draws: [])
        }
        #expect(throws: FulcrumError.invalidParameter(argument: "draws", value: "1 draw", requirement: "at least 2")) {
            try StochasticEstimate(draws: [3])
        }
        let two = try StochasticEstimate(draws: [1, 3])
        #expect(two.estimate == 2 && two.standardError == 1 && two.samples == 2)
    }
}

/// An operator whose dimension is negative (ClosureOperator rejects one; a user type need not).
struct NegativeDimensionOperator: LinearOperator {
    var dimension: Int { -1 }
    func apply(_ x: UnsafeBufferPointer<Double>, into y: UnsafeMutableBufferPointer<Double>) {}
}

@Suite struct SpectralDensityTests {
    @Test func densityIntegratesToOneAndMomentsAreExactQuadrature() throws {
        var g = SplitMix64(seed: 12)
        let n = 40, steps = 8
        let a = symmetricMatrix(spectrum: (0..<n).map { _ in g.uniform(-2, 5) }, &g)
        let op = try a.withView { try SymmetricMatrixOperator($0) }
        // One run: its moments are vᵀAᵏv/n for the same Rademacher v, exactly for k < 2·steps.
        var copy = g
        var v = [Double](repeating: 0, count: n)
        v.withUnsafeMutableBufferPointer { RademacherProbes.fill($0.baseAddress!, count: n, using: &copy) }
        let slq = try SpectralDensity(of: op, steps: steps, runs: 1, using: &g)
        var akv = v
        for k in 0..<(2 * steps) {
            let exact = zip(v, akv).map(*).reduce(0, +) / Double(n)
            #expect(abs(try slq.moment(k) - exact) < 1e-9 * max(1, abs(exact)))
            akv = multiply(a, akv)
        }
        // The weights sum to 1 and the broadened density integrates to 1 (trapezoid on a wide grid).
        #expect(abs(slq.weights.reduce(0, +) - 1) < 1e-12)
        #expect(slq.weights.allSatisfy { $0 >= 0 })
        let h = 0.01
        let integral = try stride(from: -10.0, through: 13.0, by: h).map { try slq.density(at: $0, sigma: 0.1) }.reduce(0, +) * h
        #expect(abs(integral - 1) < 1e-6)
        // Bad arguments throw (σ = 0 gave NaN; a negative k trapped on its empty range).
        #expect(throws: FulcrumError.invalidParameter(argument: "sigma", value: "0.0", requirement: "finite and > 0")) {
            try slq.density(at: 0, sigma: 0)
        }
        #expect(throws: FulcrumError.invalidParameter(argument: "t", value: "nan", requirement: "finite")) {
            try slq.density(at: .nan, sigma: 0.1)
        }
        #expect(throws: FulcrumError.invalidParameter(argument: "k", value: "-1", requirement: ">= 0")) { try slq.moment(-1) }
    }

    @Test func momentsEstimateNormalisedTracesOfPowers() throws {
        var g = SplitMix64(seed: 13)
        let n = 30, runs = 200
        let spectrum = (0..<n).map { _ in g.uniform(-1, 2) }
        let a = symmetricMatrix(spectrum: spectrum, &g)
        let op = try a.withView { try SymmetricMatrixOperator($0) }
        let copy = g
        let slq = try SpectralDensity(of: op, steps: 6, runs: runs, using: &g)
        // The per-run draws vᵀAᵏv/n give the error bar of the average.
        for k in 1...3 {
            var draws: [Double] = []
            var v = [Double](repeating: 0, count: n)
            var probes = copy
            for _ in 0..<runs {
                v.withUnsafeMutableBufferPointer { RademacherProbes.fill($0.baseAddress!, count: n, using: &probes) }
                var akv = v
                for _ in 0..<k { akv = multiply(a, akv) }
                draws.append(zip(v, akv).map(*).reduce(0, +) / Double(n))
            }
            let e = try StochasticEstimate(draws: draws)
            let exact = spectrum.map { Double.pow($0, Double(k)) }.reduce(0, +) / Double(n)
            #expect(abs(try slq.moment(k) - e.estimate) < 1e-10)
            #expect(abs(try slq.moment(k) - exact) < 4 * e.standardError)
        }
    }

    @Test func negativeDimensionThrows() {
        // The start vector of count −1 trapped; now the steps check of Lanczos rejects it.
        var g = SplitMix64(seed: 16)
        #expect(throws: FulcrumError.invalidParameter(argument: "steps", value: "2", requirement: "in 1...-1 (the operator's dimension)")) {
            try SpectralDensity(of: NegativeDimensionOperator(), steps: 2, runs: 1, using: &g)
        }
    }
}
