import Testing
import FulcrumKernels
@testable import FulcrumImbalance

func expectClose(_ a: [Double], _ b: [Double], _ tolerance: Double = 1e-12, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(a.count == b.count, sourceLocation: sourceLocation)
    for (x, y) in zip(a, b) { #expect(abs(x - y) <= tolerance * max(1, abs(y)), "\(a) vs \(b)", sourceLocation: sourceLocation) }
}

@Suite("Class weights, temperature sampling, Cooldown, prior compensation")
struct ReweightingTests {
    @Test("class weights by hand")
    func classWeights() throws {
        // N = 100, C = 3: 100/(3·10), 100/(3·30), 100/(3·60).
        expectClose(try ClassWeights.inverseFrequency(counts: [10, 30, 60]), [100.0 / 30, 100.0 / 90, 100.0 / 180])
        // β = 0.5: E = (1 − 0.5)/0.5 = 1 and (1 − 0.25)/0.5 = 1.5; 1/E = 1, 2/3; scaled to sum 2: 1.2, 0.8.
        expectClose(try ClassWeights.effectiveNumber(counts: [1, 2], beta: 0.5), [1.2, 0.8])
        expectClose(try ClassWeights.effectiveNumber(counts: [5, 500], beta: 0), [1, 1])
        // β close to 1 approaches inverse frequency (normalised to sum C).
        let near = try ClassWeights.effectiveNumber(counts: [10, 1000], beta: 1 - 1e-9)
        expectClose([near[0] / near[1]], [100], 1e-5)
        // Inverse frequency [40/20, 40/60] times costs [1, 2].
        expectClose(try ClassWeights.costSensitive(counts: [10, 30], costs: [1, 2]), [2, 4.0 / 3])
        expectClose(try ClassWeights.sampleWeights(labels: [7, 3, 7], classes: [3, 7], weights: [0.5, 2]), [2, 0.5, 2])
        #expect(throws: FulcrumError.invalidParameter(argument: "beta", value: "1.0", requirement: "in [0, 1)")) {
            try ClassWeights.effectiveNumber(counts: [1, 2], beta: 1)
        }
        #expect(throws: FulcrumError.invalidParameter(argument: "counts", value: "0", requirement: "> 0 for every class")) {
            try ClassWeights.inverseFrequency(counts: [3, 0])
        }
        #expect(throws: FulcrumError.self) { try ClassWeights.costSensitive(counts: [1, 2], costs: [1]) }
        #expect(throws: FulcrumError.self) { try ClassWeights.sampleWeights(labels: [9], classes: [3, 7], weights: [1, 1]) }
    }

    @Test("temperature sampling by hand, and its scalarization weights")
    func temperature() throws {
        // τ = 2: √1 : √4 = 1 : 2.
        expectClose(try TemperatureSampling.probabilities(counts: [1, 4], temperature: 2), [1.0 / 3, 2.0 / 3])
        expectClose(try TemperatureSampling.probabilities(counts: [1, 4], temperature: 1), [0.2, 0.8])
        expectClose(try TemperatureSampling.probabilities(counts: [1, 4], temperature: .infinity), [0.5, 0.5])
        // Tiny τ: logits log(n)/τ ≈ 7e5 would overflow exp; the gap log(1000/999)/1e-5 ≈ 100 leaves
        // e^−100 ≈ 4e−44 on the smaller class.
        expectClose(try TemperatureSampling.probabilities(counts: [1000, 999], temperature: 1e-5), [1, 0])
        // w = p / q with q = (0.2, 0.8).
        expectClose(try TemperatureSampling.scalarizationWeights(counts: [1, 4], temperature: 2), [(1.0 / 3) / 0.2, (2.0 / 3) / 0.8])
        #expect(throws: FulcrumError.self) { try TemperatureSampling.probabilities(counts: [1, 4], temperature: 0) }
        var g1 = SplitMix64(seed: 5), g2 = SplitMix64(seed: 5)
        let draws = try TemperatureSampling.sample(20000, probabilities: [0.25, 0.75], generator: &g1)
        #expect(try TemperatureSampling.sample(20000, probabilities: [0.25, 0.75], generator: &g2) == draws)
        let share = Double(draws.filter { $0 == 0 }.count) / 20000
        // Binomial standard deviation √(0.25·0.75/20000) ≈ 0.003: 5σ.
        #expect(abs(share - 0.25) < 0.015)
    }

    @Test("temperature sampling: a tiny τ is one-hot on the largest class, shared equally by ties")
    func tinyTemperature() throws {
        // τ = 2⁻¹⁰³⁰ ≈ 8.7e−311 (subnormal): log(n)/τ overflowed to +∞ for every class, and ∞ − ∞ gave NaN.
        #expect(try TemperatureSampling.probabilities(counts: [10, 20], temperature: 0x1p-1030) == [0, 1])
        #expect(try TemperatureSampling.probabilities(counts: [20, 10, 20], temperature: 0x1p-1030) == [0.5, 0, 0.5])
    }

    @Test("temperature sampling: weights whose sum overflows draw like their scaled copy")
    func hugeSamplingWeights() throws {
        // The sum was +∞, so every draw fell on the last class.
        var g1 = SplitMix64(seed: 6), g2 = SplitMix64(seed: 6)
        let draws = try TemperatureSampling.sample(1000, probabilities: [1e308, 1e308], generator: &g1)
        #expect(Set(draws) == [0, 1])
        #expect(try TemperatureSampling.sample(1000, probabilities: [0.5, 0.5], generator: &g2) == draws)
    }

    @Test("Cooldown schedule")
    func cooldown() throws {
        let step = try CooldownSchedule(initialTemperature: 5, finalTemperature: 1, cooldownStart: 100)
        #expect(step.temperature(at: 0) == 5 && step.temperature(at: 99) == 5 && step.temperature(at: 100) == 1)
        let ramp = try CooldownSchedule(initialTemperature: 5, finalTemperature: 1, cooldownStart: 100, cooldownSteps: 10)
        // Halfway through the ramp: 5 + 0.5 · (1 − 5) = 3.
        #expect(ramp.temperature(at: 105) == 3 && ramp.temperature(at: 110) == 1)
        expectClose(try ramp.probabilities(counts: [1, 4], at: 500), [0.2, 0.8])
        #expect(throws: FulcrumError.self) { try CooldownSchedule(initialTemperature: 0, finalTemperature: 1, cooldownStart: 0) }
        // The earliest step overflowed step − cooldownStart (a trap); a uniform (+∞) start gave NaN on the ramp.
        #expect(ramp.temperature(at: .min) == 5)
        let uniform = try CooldownSchedule(initialTemperature: .infinity, finalTemperature: 1, cooldownStart: 0, cooldownSteps: 10)
        #expect(uniform.temperature(at: 5) == .infinity && uniform.temperature(at: 10) == 1)
        // Counts whose sum overflows Int.
        let huge = [Int.max / 2, Int.max / 2, 4]
        #expect(try ClassWeights.inverseFrequency(counts: huge).allSatisfy { $0.isFinite && $0 > 0 })
        #expect(try TemperatureSampling.scalarizationWeights(counts: huge, temperature: 2).allSatisfy { $0.isFinite && $0 > 0 })
    }

    @Test("Cooldown towards a uniform (+∞) temperature starts the ramp at exactly the initial one")
    func cooldownToUniform() throws {
        // Step 0 of the ramp computed 1·τ₀ + 0·∞ = NaN.
        let ramp = try CooldownSchedule(initialTemperature: 1, finalTemperature: .infinity, cooldownStart: 0, cooldownSteps: 10)
        #expect(ramp.temperature(at: 0) == 1)
        #expect(ramp.temperature(at: 5) == .infinity && ramp.temperature(at: 10) == .infinity)
    }

    @Test("prior compensation by hand")
    func priors() throws {
        // (0.8/0.9, 0.2/0.1) = (0.888…, 2), normalised by 2.888…
        var p = [0.8, 0.2, 0.5, 0.5]
        try PriorCompensation.compensate(&p, priors: [0.9, 0.1])
        expectClose(p, [(0.8 / 0.9) / (0.8 / 0.9 + 2), 2 / (0.8 / 0.9 + 2), 0.1, 0.9])
        #expect(try PriorCompensation.predict([0.8, 0.2, 0.95, 0.05], priors: [0.9, 0.1]) == [1, 0])
        var bad = [0.5, .nan]
        #expect(throws: FulcrumError.nonFiniteValue(argument: "probabilities", row: 0, column: 1)) { try PriorCompensation.compensate(&bad, priors: [0.5, 0.5]) }
        #expect(throws: FulcrumError.self) { try PriorCompensation.predict([0.5, 0.5], priors: [1, 0]) }
    }

    @Test("prior compensation of huge probabilities or tiny priors: no overflow, ordinary rows unchanged")
    func extremePriors() throws {
        // p / π overflowed to +∞, and ∞ / ∞ gave NaN rows.
        var huge = [1e308, 1e308, 0.8, 0.2]
        try PriorCompensation.compensate(&huge, priors: [0.5, 0.5])
        #expect(huge == [0.5, 0.5, 0.8, 0.2])
        var tiny = [0.5, 0.5]
        try PriorCompensation.compensate(&tiny, priors: [0x1p-1030, 1])  // a subnormal prior: 1/π overflows
        expectClose(tiny, [1, 0x1p-1030])
        #expect(try PriorCompensation.predict([1e308, 1e308], priors: [1, 0.5]) == [1])
    }
}
