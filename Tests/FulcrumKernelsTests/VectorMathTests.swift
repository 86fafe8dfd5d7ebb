import Foundation
import Testing
import CBLASShim
@testable import FulcrumKernels

@Suite("Vector exp, log and tanh against the system libm")
struct VectorMathTests {
    /// Applies a vector function to `inputs` lane by lane, in whole vectors.
    static func apply<T: FulcrumFloat>(_ inputs: [T], _ f: (T.Vector) -> T.Vector) -> [T] {
        var out = [T](repeating: 0, count: inputs.count)
        let w = T.vectorWidth
        for start in stride(from: 0, to: inputs.count, by: w) {
            var v = T.Vector()
            for lane in 0..<w { v[lane] = start + lane < inputs.count ? inputs[start + lane] : 0 }
            let r = f(v)
            for lane in 0..<w where start + lane < inputs.count { out[start + lane] = r[lane] }
        }
        return out
    }

    @Test("Float exp is within 2 ulp of the correctly rounded result on [-104, 89]")
    func floatExpSweep() {
        // Every 97th Float bit pattern in the range: ~1.7 M points, subnormal results included.
        var inputs: [Float] = []
        for bits in stride(from: UInt32(0), through: Float(89).bitPattern, by: 97) { inputs.append(Float(bitPattern: bits)) }
        for bits in stride(from: Float(-0.0).bitPattern, through: Float(-104).bitPattern, by: 97) { inputs.append(Float(bitPattern: bits)) }
        let results = Self.apply(inputs) { Float.exp($0) }
        var worst = 0
        for (x, y) in zip(inputs, results) {
            let exact = Float(Foundation.exp(Double(x)))  // correctly rounded but for rare double roundings
            worst = max(worst, ulpDistance(y, exact))
        }
        #expect(inputs.count > 1_000_000)
        #expect(worst <= 2)
    }

    /// Whether `f8` on each half of 16 lanes gives `f16`'s lanes bit for bit, over `inputs`.
    static func halvesAgree(_ inputs: [Float], _ f16: (SIMD16<Float>) -> SIMD16<Float>, _ f8: (SIMD8<Float>) -> SIMD8<Float>) -> Bool {
        stride(from: 0, to: inputs.count - 15, by: 16).allSatisfy { start in
            var v = SIMD16<Float>()
            for lane in 0..<16 { v[lane] = inputs[start + lane] }
            let (whole, low, high) = (f16(v), f8(v.lowHalf), f8(v.highHalf))
            return (0..<16).allSatisfy { whole[$0].bitPattern == (($0 < 8 ? low[$0] : high[$0 - 8]).bitPattern) }
        }
    }

    @Test("8-lane Float vectors (the gating and kNN tiles) give the 16-lane results bit for bit")
    func eightLanes() {
        var random = TestRandom(seed: 7)
        let specials: [Float] = [.nan, .infinity, -.infinity, 0, -0.0, 1e-40, .leastNonzeroMagnitude, 88.7, -87.4, -104]
        let inputs = (0..<8192).map { _ in Float(random.uniform(-110, 100)) } + specials + specials.map { -$0 }
        let padded = inputs + [Float](repeating: 1, count: 16 - inputs.count % 16)
        #expect(Self.halvesAgree(padded, { Float.exp($0) }, { Float.exp($0) }))
        #expect(Self.halvesAgree(padded.map { min($0, 88) }, { Float.exponentialOfShift($0) }, { Float.exponentialOfShift($0) }))
        #expect(Self.halvesAgree(padded, { Float.log($0) }, { Float.log($0) }))
    }

    @Test("Float exp: 0 below underflow, +inf above overflow, NaN stays NaN")
    func floatExpSpecials() {
        let inputs: [Float] = [-104.5, -200, -.infinity, -1e30, 88.8, 100, .infinity, .nan]
        let r = Self.apply(inputs) { Float.exp($0) }
        #expect(r[0...3].allSatisfy { $0 == 0 })
        #expect(r[4...6].allSatisfy { $0 == .infinity })
        #expect(r[7].isNaN)
    }

    @Test("Double exp is within 2 ulp of libm on [-745, 709]")
    func doubleExpSweep() {
        var random = TestRandom(seed: 1)
        let inputs: [Double] = (0..<400_000).map { _ in random.uniform(-745, 709) } + (0..<100_000).map { _ in random.uniform(-1, 1) }
        let results = Self.apply(inputs) { Double.exp($0) }
        let worst = zip(inputs, results).map { ulpDistance($1, Foundation.exp($0)) }.max()!
        #expect(worst <= 2)
        let specials = Self.apply([Double(-746), -1e300, 710, .infinity, .nan]) { Double.exp($0) }
        #expect(specials[0] == 0 && specials[1] == 0 && specials[2] == .infinity && specials[3] == .infinity && specials[4].isNaN)
    }

    @Test("Float log is within 2 ulp of libm for positive Floats, subnormals included")
    func floatLogSweep() {
        var inputs: [Float] = []
        var bits: UInt32 = 1
        while bits < Float.infinity.bitPattern {
            inputs.append(Float(bitPattern: bits))
            bits += 1013
        }
        let results = Self.apply(inputs) { Float.log($0) }
        let worst = zip(inputs, results).map { ulpDistance($1, Float(Foundation.log(Double($0)))) }.max()!
        #expect(inputs.count > 2_000_000)
        #expect(worst <= 2)
        let specials = Self.apply([Float(0), -1, .infinity, .nan, 1]) { Float.log($0) }
        #expect(specials[0] == -.infinity && specials[1].isNaN && specials[2] == .infinity && specials[3].isNaN && specials[4] == 0)
    }

    @Test("Double log is within 2 ulp of libm")
    func doubleLogSweep() {
        var random = TestRandom(seed: 2)
        let inputs: [Double] = (0..<300_000).map { _ in Foundation.exp(random.uniform(-745, 709)) }
            + (0..<100_000).map { _ in random.uniform(0.5, 2) } + [Double.leastNonzeroMagnitude, 4e-320]
        let results = Self.apply(inputs) { Double.log($0) }
        let worst = zip(inputs, results).map { ulpDistance($1, Foundation.log($0)) }.max()!
        #expect(worst <= 2)
    }

    @Test("Double logOnePlus is within 4 ulp of libm's log1p, tiny arguments included")
    func doubleLogOnePlusSweep() {
        var random = TestRandom(seed: 4)
        let inputs: [Double] = (0..<200_000).map { _ in Foundation.exp(random.uniform(-740, 700)) }
            + (0..<100_000).map { _ in random.uniform(-0.999, 2) }
            + [0, -0.0, 1e-300, 2.2e-16, 1.1e-16, -1e-17, 1, 1e300, Double.leastNonzeroMagnitude]
        let worst = inputs.map { ulpDistance(Double.logOnePlus($0), Foundation.log1p($0)) }.max()!
        #expect(worst <= 4)
    }

    @Test("Vector tanh has absolute error below 4 ulp of 1")
    func tanhAbsoluteError() {
        var random = TestRandom(seed: 3)
        let inputs: [Float] = random.values(100_000, -20, 20) + [0, -0.0, 1e-30, 50, -50]
        let results = Self.apply(inputs) { Float.tanh($0) }
        let worst = zip(inputs, results).map { abs(Double($1) - Foundation.tanh(Double($0))) }.max()!
        #expect(worst <= 4 * Double(Float.ulpOfOne))
    }
}

@Suite("Exponential of softmax shifts")
struct ExponentialOfShiftTests {
    @Test("Float: within 2 ulp on [-87.33, 88] (positive: a shift below the row maximum), 0 below, NaN stays NaN")
    func float() {
        var inputs: [Float] = []
        for bits in stride(from: Float(-0.0).bitPattern, through: Float(-87.33).bitPattern, by: 61) { inputs.append(Float(bitPattern: bits)) }
        for bits in stride(from: Float(0).bitPattern, through: Float(88).bitPattern, by: 61) { inputs.append(Float(bitPattern: bits)) }
        let results = VectorMathTests.apply(inputs) { Float.exponentialOfShift($0) }
        let worst = zip(inputs, results).map { ulpDistance($1, Float(Foundation.exp(Double($0)))) }.max()!
        #expect(worst <= 2)
        let specials = VectorMathTests.apply([Float(-87.4), -100, -.infinity, .nan, 0]) { Float.exponentialOfShift($0) }
        #expect(specials[0] == 0 && specials[1] == 0 && specials[2] == 0 && specials[3].isNaN && specials[4] == 1)
    }

    @Test("Double: within 2 ulp on [-708.39, 0], 0 below")
    func double() {
        var random = TestRandom(seed: 6)
        let inputs: [Double] = (0..<200_000).map { _ in random.uniform(-708.39, 0) }
        let results = VectorMathTests.apply(inputs) { Double.exponentialOfShift($0) }
        #expect(zip(inputs, results).map { ulpDistance($1, Foundation.exp($0)) }.max()! <= 2)
        let specials = VectorMathTests.apply([Double(-708.4), -.infinity, .nan, 0]) { Double.exponentialOfShift($0) }
        #expect(specials[0] == 0 && specials[1] == 0 && specials[2].isNaN && specials[3] == 1)
    }
}

@Suite("Exponent scaling of the vector exponentials")
struct ExponentScalingTests {
    /// (y, t, x) lanes covering every exponent n the exponentials produce, mantissas y of both
    /// ends of eʳ's range, thresholds crossed from both sides, and NaN and ±∞ in x.
    static func cases() -> [(y: Float, t: Float, x: Float)] {
        var random = TestRandom(seed: 11)
        let threshold: Float = -87.33
        var cases: [(Float, Float, Float)] = []
        for n in -140...130 {
            for _ in 0..<24 {
                let y = Float(random.uniform(0.70, 1.42))
                let x = Float(random.uniform(-110, 90))
                cases.append((y, Float.exponentMagic + Float(n), x))
            }
        }
        for x in [Float.nan, .infinity, -.infinity, threshold, threshold.nextDown, threshold.nextUp, 0] {
            cases.append((1.25, Float.exponentMagic - 126, x))
        }
        // 2ⁿ must be normal wherever x is not below the threshold.
        return cases.map { c in Int(c.1 - Float.exponentMagic) < -126 || Int(c.1 - Float.exponentMagic) > 127 ? (c.0, c.1, -.infinity) : c }
    }

    @Test("the scale instruction (AVX-512 builds) and the exponent-bits path agree bit for bit, 16 and 8 lanes")
    func pathsAgree() {
        let cases = Self.cases()
        let threshold16 = SIMD16<Float>(repeating: -87.33), threshold8 = SIMD8<Float>(repeating: -87.33)
        var mismatches = 0, scaledLanes = 0
        for start in stride(from: 0, to: cases.count - 15, by: 16) {
            var (y, t, x) = (SIMD16<Float>(), SIMD16<Float>(), SIMD16<Float>())
            for lane in 0..<16 { (y[lane], t[lane], x[lane]) = cases[start + lane] }
            let fast = fulcrum_power_of_two_scaled_float16(y, t, x, threshold16)
            let bits = fulcrum_power_of_two_bits_scaled_float16(y, t, x, threshold16)
            let low = fulcrum_power_of_two_scaled_float8(y.lowHalf, t.lowHalf, x.lowHalf, threshold8)
            let high = fulcrum_power_of_two_scaled_float8(y.highHalf, t.highHalf, x.highHalf, threshold8)
            for lane in 0..<16 {
                let half = lane < 8 ? low[lane] : high[lane - 8]
                if fast[lane].bitPattern != bits[lane].bitPattern || half.bitPattern != bits[lane].bitPattern { mismatches += 1 }
                // Independent reference: y·2ⁿ in Double, rounded once to Float, or 0 below the threshold.
                let n = Int(t[lane] - Float.exponentMagic)
                let expected: Float = x[lane] < -87.33 ? 0 : Float(Double(y[lane]) * pow(2, Double(n)))
                if x[lane].isNaN { if !bits[lane].isNaN { mismatches += 1 } } else if bits[lane].bitPattern != expected.bitPattern { mismatches += 1 }
                if !(x[lane] < -87.33) { scaledLanes += 1 }
            }
        }
        #expect(scaledLanes > 1000)
        #expect(mismatches == 0)
    }
}

@Suite("Largest lane of a vector")
struct LargestLaneTests {
    /// The largest lane of each of `vectors` (of `V.scalarCount` lanes), by a plain loop, against
    /// `largestLane`.
    static func check<V: LaneVector>(_ vectors: [[V.Scalar]], as _: V.Type) {
        for lanes in vectors {
            var v = V()
            for (i, x) in lanes.enumerated() { v[i] = x }
            #expect(V.largestLane(v) == lanes.max()!, "lanes \(lanes)")
        }
    }

    /// Random lanes, −3 in every position among −∞, all −∞, and a vector holding ±∞ and ±0.
    static func cases<T: FulcrumFloat>(width: Int, magnitude: Double, _ random: inout TestRandom) -> [[T]] {
        var vectors: [[T]] = (0..<200).map { _ in (0..<width).map { _ in T(random.uniform(-magnitude, magnitude)) } }
        for position in 0..<width {
            var lanes = [T](repeating: -.infinity, count: width)
            lanes[position] = -3
            vectors.append(lanes)
        }
        vectors.append([T](repeating: -.infinity, count: width))
        vectors.append((0..<width).map { [1, .infinity, -.infinity, 0, -0.0, 5, 7][$0 % 7] })
        return vectors
    }

    @Test("16 and 8 Floats, 4 Doubles: random lanes, the maximum in every position, infinities")
    func largestLane() {
        var random = TestRandom(seed: 21)
        Self.check(Self.cases(width: 16, magnitude: 1e6, &random), as: SIMD16<Float>.self)
        Self.check(Self.cases(width: 8, magnitude: 1e6, &random), as: SIMD8<Float>.self)
        Self.check(Self.cases(width: 4, magnitude: 1e300, &random), as: SIMD4<Double>.self)
    }
}

@Suite("Selecting by the sign bit, and the negative magnitude")
struct SignBitTests {
    /// Each lane against the scalar rule: `x` where the sign bit is set, else `y`; −|v| with the
    /// sign bit set (checked bitwise, so −0 and NaN are covered).
    static func check<T: FulcrumFloat>(_ values: [T]) {
        for start in stride(from: 0, to: values.count, by: T.vectorWidth) {
            let lanes = Array(values[start ..< min(values.count, start + T.vectorWidth)])
            var v = T.Vector(), x = T.Vector(), y = T.Vector()
            for (i, value) in lanes.enumerated() {
                v[i] = value
                x[i] = T(i + 1)
                y[i] = -T(i + 1)
            }
            let chosen = T.select(whereSignOf: v, x, else: y), negative = T.negativeMagnitude(v)
            for (i, value) in lanes.enumerated() {
                #expect(chosen[i] == (value.sign == .minus ? x[i] : y[i]), "lane \(value)")
                let expected = -value.magnitude
                #expect(negative[i].isNaN ? value.isNaN && negative[i].sign == .minus : negative[i] == expected && negative[i].sign == .minus,
                        "lane \(value)")
            }
        }
    }

    @Test("Float and Double: signed zeros, infinities, NaNs of either sign, subnormals, random values")
    func signBit() {
        var random = TestRandom(seed: 5)
        var floats: [Float] = [0, -0.0, .infinity, -.infinity, .nan, -Float.nan, .leastNonzeroMagnitude, -.leastNonzeroMagnitude]
        floats += (0..<64).map { _ in Float(random.uniform(-1e3, 1e3)) }
        Self.check(floats)
        var doubles: [Double] = [0, -0.0, .infinity, -.infinity, .nan, -Double.nan, .leastNonzeroMagnitude, -.leastNonzeroMagnitude]
        doubles += (0..<64).map { _ in random.uniform(-1e300, 1e300) }
        Self.check(doubles)
    }
}
