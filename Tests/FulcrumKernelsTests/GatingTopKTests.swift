import Testing
@testable import FulcrumKernels

@Suite("Gating top-k selection against a stable sort")
struct GatingTopKTests {
    /// The top k of `keys`, larger first, ties to the lower index (a stable sort).
    static func expected(_ keys: [Float], _ k: Int) -> [Int32] {
        Array(keys.indices.sorted { keys[$0] > keys[$1] || (keys[$0] == keys[$1] && $0 < $1) }.prefix(k)).map { Int32($0) }
    }

    /// `ThresholdTopK` against the stable sort.
    static func check(_ keys: [Float], _ k: Int) {
        let topK = ThresholdTopK(count: keys.count)
        var selector = TopKSelector(capacity: k)
        defer { topK.deallocate(); selector.deallocate() }
        let want = expected(keys, k)
        keys.withUnsafeBufferPointer { p in
            topK.select(p.baseAddress!, count: keys.count, into: &selector)
            #expect((0..<k).map { selector.index[$0] } == want, "k \(k) keys \(keys)")
            #expect((0..<k).map { selector.key[$0] } == want.map { keys[Int($0)] })
        }
    }

    @Test func randomRowsWithManyTies() {
        var random = TestRandom(seed: 29)
        for count in [1, 2, 7, 8, 9, 15, 16, 17, 40, 63, 64, 65, 72, 130, 256] {
            for k in 1...min(ThresholdTopK.maximumK, count) {
                for distinct in [2, 5, 1000] {
                    for _ in 0..<6 {
                        Self.check((0..<count).map { _ in Float(random.below(distinct)) - Float(distinct / 2) }, k)
                    }
                }
            }
        }
    }

    @Test func extremeKeys() {
        // All equal: the first k indices, in order.
        Self.check([Float](repeating: 0.5, count: 20), 8)
        // −0 and +0 are equal keys: lower index first.
        Self.check([-0.0, 0.0, -1, -0.0, 0.0], 3)
        // ±∞ and the largest finite values (selection keys with a bias can overflow).
        Self.check([-.infinity, 3e38, .infinity, -3e38, -.infinity, .infinity, 1], 4)
        // Fewer finite keys than k: −∞ keys fill up in index order, not the vector padding.
        Self.check([-.infinity, -.infinity, 2, -.infinity, -.infinity, -.infinity, -.infinity, -.infinity, -.infinity, -.infinity], 8)
        Self.check([Float](repeating: -.infinity, count: 11), 8)
    }
}
