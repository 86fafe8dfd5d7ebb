import CBLASShim

/// Branch-light top-k for k ≤ 8 (Switch top-1, Mixtral top-2, DeepSeek-V3 top-8): find the k-th
/// largest key t, gather the keys ≥ t in one pass, rank them. Ties go to the lower index.
///
/// 1. Each of the 8 SIMD lanes keeps its largest keys sorted in k levels (lane l sees keys
///    l, l + 8, l + 16, …): a vector of keys sinks through the levels with one maximum and one
///    minimum per level, without branches or index bookkeeping. The k largest keys of the row,
///    counted with multiplicity, are among these 8k.
/// 2. t comes from popping lane heads: a round takes the largest head h and moves every lane whose
///    head equals h up one level, counting them; the round where the count reaches k gives t = h.
///    The keys popped in rounds with a head above t are exactly the g < k keys strictly above t.
/// 3. One pass over the keys collects, in increasing index order, the indices of the keys ≥ t
///    (an 8-bit lane mask per vector, 64 keys per machine word, set bits read with trailing-zero
///    counts). All keys > t are chosen, then the first k − g keys equal to t.
/// 4. A chosen key's rank is the number of chosen keys above it plus the equal ones with a lower
///    index (two mask compares and popcounts), which writes the output best first.
///
/// The data-dependent branches are a few per row (the end of step 2 and of each word's bit loop in
/// step 3), whatever the key values. Scratch for the gathered candidates is owned by the caller.
struct ThresholdTopK {
    /// The largest k `select` supports (the number of levels kept per lane).
    static let maximumK = 8

    typealias Keys = SIMD8<Float>

    /// Candidate indices and keys, room for every key of a row plus one vector.
    private let candidateIndex: UnsafeMutablePointer<Int32>
    private let candidateKey: UnsafeMutablePointer<Float>

    /// Scratch for rows of up to `count` keys; release it with `deallocate()`.
    init(count: Int) {
        let capacity = ((count + 7) & ~7) + 8
        candidateIndex = .allocate(capacity: capacity)
        candidateIndex.initialize(repeating: 0, count: capacity)
        candidateKey = .allocate(capacity: capacity)
        candidateKey.initialize(repeating: 0, count: capacity)
    }

    func deallocate() {
        candidateIndex.deallocate()
        candidateKey.deallocate()
    }

    /// Writes the top k of `keys[0..<count]` (no NaN; ±∞ are ordered like any key;
    /// k = `selector.capacity` ≤ 8, k ≤ count) into `selector`, best first.
    @inline(__always)
    func select(_ keys: UnsafePointer<Float>, count: Int, into selector: inout TopKSelector) {
        LaneLists.withEmpty(levels: LaneLists.levels(k: selector.capacity, count: count)) { lists in
            var j = 0
            while j < count {
                lists.insert(j &+ 8 <= count ? keys.loadVector(at: j, as: SIMD8<Float>.self) : keys.loadVector(at: j, count: count &- j, padding: -.infinity, as: SIMD8<Float>.self))
                j &+= 8
            }
            rank(keys, count: count, threshold: lists.popThreshold(k: selector.capacity), into: &selector)
        }
    }

    /// Steps 3 and 4: gathers the keys of the threshold `(t, above)` and writes them ranked.
    @inline(__always)
    private func rank(_ keys: UnsafePointer<Float>, count: Int, threshold: (t: Float, above: Int), into selector: inout TopKSelector) {
        let k = selector.capacity
        var chosen = gather(keys, count: count, threshold: threshold.t, equalWanted: k &- threshold.above, k: k)
        // Lanes k..<8 of the chosen keys: −∞, below every finite key.
        chosen = Float.select(where: SIMD8<Float>.laneIndices, isLessThan: Keys(repeating: Float(k)), chosen, else: Keys(repeating: -.infinity))
        for a in 0..<k {
            let key = candidateKey[a]
            let broadcast = Keys(repeating: key)
            let atLeast = fulcrum_lanes_less_equal_float8(broadcast, chosen)  // chosen ≥ key
            let atMost = fulcrum_lanes_less_equal_float8(chosen, broadcast)   // chosen ≤ key
            let earlier: UInt32 = (1 << UInt32(a)) &- 1
            let rank = (atLeast & ~atMost).nonzeroBitCount &+ (atLeast & atMost & earlier).nonzeroBitCount
            selector.key[rank] = key
            selector.index[rank] = candidateIndex[a]
        }
    }

    /// Stores the chosen keys and indices, in index order, in the candidate scratch: every key
    /// above t and the first `equalWanted` keys equal to t. Returns lanes 0..<8 of the chosen keys.
    @inline(__always)
    private func gather(_ keys: UnsafePointer<Float>, count: Int, threshold t: Float, equalWanted: Int, k: Int) -> Keys {
        let broadcast = Keys(repeating: t)
        var found = 0
        var start = 0
        while start < count {
            var word: UInt64 = 0
            var j = start
            let end = min(count, start &+ 64)
            while j < end {
                var lanes: UInt32
                if j &+ 8 <= count {
                    lanes = fulcrum_lanes_less_equal_float8(broadcast, keys.loadVector(at: j, as: SIMD8<Float>.self))
                } else {
                    // Only the lanes of the row: padding must not pass a threshold of −∞.
                    let v = keys.loadVector(at: j, count: count &- j, padding: -.infinity, as: SIMD8<Float>.self)
                    lanes = fulcrum_lanes_less_equal_float8(broadcast, v) & ((1 << UInt32(count &- j)) &- 1)
                }
                word |= UInt64(lanes) << UInt64(j &- start)
                j &+= 8
            }
            while word != 0 {
                candidateIndex[found] = Int32(truncatingIfNeeded: start &+ word.trailingZeroBitCount)
                found &+= 1
                word &= word &- 1
            }
            start &+= 64
        }
        if found == k {
            // The usual case: no extra key equals t, every candidate is chosen.
            for c in 0..<k { candidateKey[c] = keys[Int(candidateIndex[c])] }
            return chosenKeys
        }
        // Keep every key above t and the first `equalWanted` equal to it (compacting in place,
        // stores without branches).
        var kept = 0
        var equalLeft = equalWanted
        for c in 0..<found {
            let i = candidateIndex[c]
            let key = keys[Int(i)]
            let isEqual = !(key > t)
            let take = !isEqual || equalLeft > 0
            candidateIndex[kept] = i
            candidateKey[kept] = key
            kept &+= take ? 1 : 0
            equalLeft &-= take && isEqual ? 1 : 0
        }
        return chosenKeys
    }

    /// Lanes 0..<8 of the candidate keys, assembled from scalar loads: each one is forwarded from
    /// the scalar store that wrote it, where a vector load over several fresh stores would wait
    /// for them to reach the cache.
    @inline(__always)
    private var chosenKeys: Keys {
        let c = candidateKey
        return Keys(c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7])
    }
}

/// The 8 lane-wise sorted lists of `ThresholdTopK` (steps 1 and 2), kept in registers.
struct LaneLists {
    typealias Keys = SIMD8<Float>
    let levels: Int
    private var l: (Keys, Keys, Keys, Keys, Keys, Keys, Keys, Keys)

    /// Empty lists `levels` (1…8) deep.
    @inline(__always)
    init(levels: Int) {
        self.levels = levels
        let empty = Keys(repeating: -.infinity)
        l = (empty, empty, empty, empty, empty, empty, empty, empty)
    }

    /// The levels the top k of `count` keys needs: k, but no more than the ⌈count/8⌉ keys a lane sees.
    @inline(__always)
    static func levels(k: Int, count: Int) -> Int { min(k, (count &+ 7) >> 3) }

    /// Runs `body` on empty lists `levels` (1…8) deep, the depth a constant in each inlined copy
    /// (see `withConstantDepth`).
    @inline(__always)
    static func withEmpty<Result>(levels: Int, _ body: (inout LaneLists) -> Result) -> Result {
        withConstantDepth(levels) { depth in
            var lists = LaneLists(levels: depth)
            return body(&lists)
        }
    }

    /// Inserts 8 keys, one per lane (−∞ for a lane without a key).
    @inline(__always)
    mutating func insert(_ keys: Keys) {
        var v = keys
        Self.sink(&l.0, &v)
        if levels > 1 { Self.sink(&l.1, &v) }
        if levels > 2 { Self.sink(&l.2, &v) }
        if levels > 3 { Self.sink(&l.3, &v) }
        if levels > 4 { Self.sink(&l.4, &v) }
        if levels > 5 { Self.sink(&l.5, &v) }
        if levels > 6 { Self.sink(&l.6, &v) }
        if levels > 7 { Self.sink(&l.7, &v) }
    }

    /// The k-th largest key t (with multiplicity) and the number of keys strictly above it;
    /// empties the lists on the way.
    @inline(__always)
    mutating func popThreshold(k: Int) -> (Float, Int) {
        let empty = Keys(repeating: -.infinity)
        var popped = 0, above = 0
        var previous = Float.infinity
        while true {
            let head = l.0
            let h = Float.largestLane(head)
            let broadcast = Keys(repeating: h)
            if h != previous { above = popped }
            popped &+= fulcrum_lanes_less_equal_float8(broadcast, head).nonzeroBitCount
            if popped >= k { return (h, above) }
            previous = h
            // Lanes whose head is h (head ≥ h) move up one level; the others keep theirs.
            @inline(__always) func up(_ level: Keys, _ next: Keys) -> Keys {
                Float.select(where: head, isLessThan: broadcast, level, else: next)
            }
            l.0 = up(l.0, l.1)
            if levels > 1 { l.1 = up(l.1, l.2) }
            if levels > 2 { l.2 = up(l.2, l.3) }
            if levels > 3 { l.3 = up(l.3, l.4) }
            if levels > 4 { l.4 = up(l.4, l.5) }
            if levels > 5 { l.5 = up(l.5, l.6) }
            if levels > 6 { l.6 = up(l.6, l.7) }
            if levels > 7 { l.7 = up(l.7, empty) }
        }
    }

    /// One level of the sorted insertion: the level keeps the larger of (level, v) and the
    /// smaller sinks on.
    @inline(__always)
    private static func sink(_ level: inout Keys, _ v: inout Keys) {
        let high = Float.maximum(level, v)
        v = Float.select(where: level, isLessThan: v, level, else: v)
        level = high
    }
}
