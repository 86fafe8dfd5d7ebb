import Testing
import FulcrumKernels
@testable import FulcrumImbalance

@Suite("SamplingStrategy")
struct SamplingStrategyTests {
    let counts: [(label: Int, count: Int)] = [(2, 10), (0, 50), (1, 20)]

    func resolve(_ s: SamplingStrategy, _ p: SamplingStrategy.Purpose) throws -> [Int: Int] {
        Dictionary(uniqueKeysWithValues: try s.targets(classCounts: counts, purpose: p).map { ($0.label, $0.count) })
    }

    @Test("imbalanced-learn's table: rows to generate, rows to keep, classes to clean")
    func table() throws {
        #expect(try resolve(.auto, .overSampling) == [1: 30, 2: 40])
        #expect(try resolve(.minority, .overSampling) == [2: 40])
        #expect(try resolve(.notMinority, .overSampling) == [0: 0, 1: 30])
        #expect(try resolve(.all, .overSampling) == [0: 0, 1: 30, 2: 40])
        #expect(try resolve(.auto, .underSampling) == [0: 10, 1: 10])
        #expect(try resolve(.majority, .underSampling) == [0: 10])
        #expect(try resolve(.notMajority, .underSampling) == [1: 10, 2: 10])
        #expect(try resolve(.counts([0: 60]), .overSampling) == [0: 10])
        #expect(try resolve(.counts([0: 5]), .underSampling) == [0: 5])
        #expect(try resolve(.auto, .cleaning) == [0: 50, 1: 20])
        #expect(try resolve(.classes([1, 1]), .cleaning) == [1: 20])
        let binary: [(label: Int, count: Int)] = [(0, 100), (1, 10)]
        // ratio 0.25 over: ⌊0.25·100⌋ − 10 = 15 new minority rows; under: keep ⌊10 / 0.25⌋ = 40 majority rows.
        #expect(try SamplingStrategy.ratio(0.25).targets(classCounts: binary, purpose: .overSampling).map(\.count) == [15])
        #expect(try SamplingStrategy.ratio(0.25).targets(classCounts: binary, purpose: .underSampling).map(\.count) == [40])
    }

    @Test("requests a purpose cannot meet are errors naming samplingStrategy")
    func rejected() throws {
        #expect(throws: FulcrumError.self) { try resolve(.ratio(0.5), .overSampling) }  // three classes
        #expect(throws: FulcrumError.self) { try resolve(.minority, .underSampling) }
        #expect(throws: FulcrumError.self) { try resolve(.majority, .overSampling) }
        #expect(throws: FulcrumError.self) { try resolve(.counts([0: 49]), .overSampling) }
        #expect(throws: FulcrumError.self) { try resolve(.counts([2: 11]), .underSampling) }
        #expect(throws: FulcrumError.self) { try resolve(.counts([1: 5]), .cleaning) }
        #expect(throws: FulcrumError.emptyReduction(argument: "samplingStrategy", reason: "class 7 has no sample in labels")) {
            try resolve(.classes([7]), .cleaning)
        }
        let binary: [(label: Int, count: Int)] = [(0, 100), (1, 10)]
        for bad in [0.0, -1, 1.5, 0.05] {
            #expect(throws: FulcrumError.self) { try SamplingStrategy.ratio(bad).targets(classCounts: binary, purpose: .overSampling) }
        }
    }

    @Test("a tiny under-sampling ratio is an error naming samplingStrategy (n_min / r overflowed Int)")
    func tinyRatio() {
        let binary: [(label: Int, count: Int)] = [(0, 100), (1, 10)]
        #expect(throws: FulcrumError.invalidParameter(
            argument: "samplingStrategy", value: "ratio(1e-300)",
            requirement: "large enough not to add majority samples when under-sampling (needs r >= 0.1)")) {
            try SamplingStrategy.ratio(1e-300).targets(classCounts: binary, purpose: .underSampling)
        }
    }

    @Test("class counts that overflow Int, are negative or repeat a class are errors naming classCounts")
    func invalidClassCounts() {
        func invalid(_ value: String, _ requirement: String) -> FulcrumError {
            .invalidParameter(argument: "classCounts", value: value, requirement: requirement)
        }
        #expect(throws: invalid("counts summing beyond Int.max", "a total that fits in Int")) {
            try SamplingStrategy.auto.targets(classCounts: [(0, Int.max), (1, 1)], purpose: .overSampling)
        }
        #expect(throws: invalid("\(Int.min) for class 1", ">= 0")) {
            try SamplingStrategy.auto.targets(classCounts: [(0, 5), (1, Int.min)], purpose: .overSampling)
        }
        #expect(throws: invalid("class 0 listed twice", "one count per class")) {
            try SamplingStrategy.auto.targets(classCounts: [(0, 5), (0, 3)], purpose: .underSampling)
        }
        // ⌊1·n_max⌋ rounds to 2⁶³ in Double, which trapped converting to Int.
        #expect(throws: FulcrumError.invalidParameter(argument: "samplingStrategy", value: "ratio(1.0)",
                                                      requirement: "at most \(SamplingStrategy.maximumRows) rows after over-sampling")) {
            try SamplingStrategy.ratio(1).targets(classCounts: [(0, Int.max), (1, 0)], purpose: .overSampling)
        }
    }
}
