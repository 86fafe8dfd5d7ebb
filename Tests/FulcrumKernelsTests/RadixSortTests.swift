import Testing
@testable import FulcrumKernels

@Suite("RadixSort", .serialized)
struct RadixSortTests {
    @Test func keysPreserveFloatOrder() {
        let values: [Float] = [-.infinity, -Float.greatestFiniteMagnitude, -1, -Float.leastNonzeroMagnitude,
                               0, Float.leastNonzeroMagnitude, 1e-30, 0.5, 1, Float.greatestFiniteMagnitude, .infinity]
        for (a, b) in zip(values, values.dropFirst()) {
            #expect(RadixSort.key(a) < RadixSort.key(b), "\(a) < \(b)")
        }
        #expect(RadixSort.key(-0.0) == RadixSort.key(0.0))
        for v in values { #expect(RadixSort.value(ofKey: RadixSort.key(v)) == v) }
    }

    @Test func sortsKeysLikeTheStandardLibrary() throws {
        var g = SplitMix64(seed: 1)
        for n in [0, 1, 2, 100, 70_000, 300_001] {
            var keys = (0..<n).map { _ in RadixSort.key(Float(Double(g.next() % 2001) / 1000 - 1) * (g.next() % 7 == 0 ? 1e20 : 1)) }
            let expected = keys.sorted()
            var scratch = [UInt32](repeating: 0, count: n)
            try keys.withUnsafeMutableBufferPointer { k in
                try scratch.withUnsafeMutableBufferPointer { try RadixSort.sort(k, scratch: $0) }
            }
            #expect(keys == expected)
        }
    }

    @Test func keyedSortIsStableAndThreadIndependent() throws {
        var g = SplitMix64(seed: 2)
        let n = 200_000
        let input = (0..<n).map { i in UInt64(g.next() % 1000) << 32 | UInt64(i) }
        // Stable: equal keys keep their input order, so sorting (key, index) pairs gives them.
        let expected = input.sorted()
        var results: [[UInt64]] = []
        let saved = Threads.count
        defer { try? Threads.setCount(saved) }
        for threads in [1, 2] {
            try Threads.setCount(threads)
            var items = input
            var scratch = [UInt64](repeating: 0, count: n)
            try items.withUnsafeMutableBufferPointer { k in
                try scratch.withUnsafeMutableBufferPointer { try RadixSort.sort(keyed: k, scratch: $0) }
            }
            results.append(items)
        }
        #expect(results[0] == expected)
        #expect(results[1] == expected)
    }

    @Test func smallScratchThrows() {
        var keys: [UInt32] = [3, 1, 2]
        var scratch: [UInt32] = [0]
        #expect(throws: FulcrumError.invalidBuffer(argument: "scratch", reason: "holds 1 elements, the sort needs 3")) {
            try keys.withUnsafeMutableBufferPointer { k in
                try scratch.withUnsafeMutableBufferPointer { try RadixSort.sort(k, scratch: $0) }
            }
        }
    }
}
