/// The k largest keys of a row, best first, with deterministic ties: keys are offered in
/// increasing index order and a key must be strictly larger than the current k-th to enter, so
/// among equal keys the lower index wins. Offering a key that cannot be in the top k is harmless,
/// which lets `scan` skip keys below a bound and insert whole vectors without branches.
///
/// Storage is k indices and k keys of scratch, reused row after row.
struct TopKSelector {
    let capacity: Int
    let index: UnsafeMutablePointer<Int32>
    let key: UnsafeMutablePointer<Float>
    /// Scratch for the 8·⌈k/8⌉ ≤ 32 candidate maxima of `scan`.
    let candidates: UnsafeMutablePointer<Float>

    /// A selector of the top `capacity` over caller scratch; `candidates` holds 32 Floats.
    init(capacity: Int, index: UnsafeMutablePointer<Int32>, key: UnsafeMutablePointer<Float>, candidates: UnsafeMutablePointer<Float>) {
        self.capacity = capacity
        self.index = index
        self.key = key
        self.candidates = candidates
    }

    /// A selector owning its scratch; release it with `deallocate()`.
    init(capacity: Int) {
        self.init(capacity: capacity, index: .allocate(capacity: capacity), key: .allocate(capacity: capacity),
                  candidates: .allocate(capacity: 32))
    }

    func deallocate() {
        index.deallocate()
        key.deallocate()
        candidates.deallocate()
    }

    /// Empties the list: every slot holds the sentinel key −∞ (index −1), which any finite key
    /// beats, so the list is always "full" and the k-th key is always `key[k − 1]`.
    @inline(__always) mutating func reset() {
        key.update(repeating: -.infinity, count: capacity)
        index.update(repeating: -1, count: capacity)
    }

    /// The number of real (non-sentinel) entries.
    var count: Int { (0..<capacity).lazy.filter { index[$0] >= 0 }.count }

    /// Inserts key `value` of index `i` if it beats the k-th key, after equal keys already present
    /// (so the lower index stays first). Branch-free: it enters at the first slot whose key it
    /// beats and every later entry moves down one slot, all with compare-and-select over the k
    /// slots (the old keys descend, so `value > key` holds from the entry slot on).
    @inline(__always)
    mutating func insert(_ value: Float, _ i: Int) {
        var carryKey = value.bitPattern
        var carryIndex = UInt32(truncatingIfNeeded: i)
        let keyBits = UnsafeMutableRawPointer(key).assumingMemoryBound(to: UInt32.self)
        let indexBits = UnsafeMutableRawPointer(index).assumingMemoryBound(to: UInt32.self)
        for level in 0..<capacity {
            let (k, j) = (keyBits[level], indexBits[level])
            // All ones when the value beats this slot's key (bit arithmetic, so that the compiler
            // cannot turn the selects into a branch).
            let take = 0 &- UInt32(truncatingIfNeeded: unsafeBitCast(value > Float(bitPattern: k), to: UInt8.self))
            keyBits[level] = (carryKey & take) | (k & ~take)
            indexBits[level] = (carryIndex & take) | (j & ~take)
            carryKey = (k & take) | (carryKey & ~take)
            carryIndex = (j & take) | (carryIndex & ~take)
        }
    }

    /// Offers `keys[i]` for every i in `range`, in increasing order (keys must be finite).
    ///
    /// A key enters when it is larger than a threshold kept in a register: the current k-th key,
    /// raised to just below a lower bound t₀ of the k-th largest key of the range when one is
    /// known, so that only a few keys per row are ever inserted. Vectors of 8 keys none of which
    /// beats the threshold are skipped with a few integer operations. For long ranges and k ≤ 32,
    /// t₀ is the k-th largest of the lane-wise maxima of A = ⌈k/8⌉ vector accumulators: 8A distinct
    /// keys, so t₀ cannot exceed the k-th largest key. A caller with a tighter bound
    /// (`LaneTopK.lowerBound`) passes it as `lowerBound`. For k ≤ 2 every lane of a surviving
    /// vector goes through the branch-free `insert`, so a row has about one unpredictable branch per
    /// surviving vector.
    @inline(__always)
    mutating func scan(_ keys: UnsafePointer<Float>, _ range: Range<Int>, lowerBound known: Float? = nil) {
        let accumulators = (capacity + 7) / 8
        var bound = -Float.infinity
        if let known {
            bound = known.nextDown  // v > t₀⁻ ⇔ v ≥ t₀
        } else if accumulators <= 4, range.count >= 16 * accumulators {
            bound = lowerBound(keys, range, accumulators).nextDown
        }
        var threshold = max(bound, key[capacity - 1])
        var j = range.lowerBound
        let end = range.upperBound
        while j &+ 8 <= end {
            if mayBeat(UnsafeRawPointer(keys + j).loadUnaligned(as: SIMD8<Float>.self), threshold) {
                if capacity <= 2 {
                    for lane in 0..<8 { insert(keys[j &+ lane], j &+ lane) }
                } else {
                    for lane in 0..<8 where keys[j &+ lane] > threshold { insert(keys[j &+ lane], j &+ lane) }
                }
                threshold = max(bound, key[capacity - 1])
            }
            j &+= 8
        }
        while j < end {
            if keys[j] > threshold {
                insert(keys[j], j)
                threshold = max(bound, key[capacity - 1])
            }
            j &+= 1
        }
    }

    /// The k-th largest of the lane maxima of `accumulators` interleaved vector accumulators.
    @inline(__always)
    private func lowerBound(_ keys: UnsafePointer<Float>, _ range: Range<Int>, _ accumulators: Int) -> Float {
        var maxima = (SIMD8<Float>(repeating: -.infinity), SIMD8<Float>(repeating: -.infinity),
                      SIMD8<Float>(repeating: -.infinity), SIMD8<Float>(repeating: -.infinity))
        var j = range.lowerBound
        let step = 8 * accumulators
        while j + step <= range.upperBound {
            foldMaxima(keys + j, &maxima.0)
            if accumulators > 1 { foldMaxima(keys + j + 8, &maxima.1) }
            if accumulators > 2 { foldMaxima(keys + j + 16, &maxima.2) }
            if accumulators > 3 { foldMaxima(keys + j + 24, &maxima.3) }
            j += step
        }
        if accumulators == 1 { return kthLargest(maxima.0, capacity) }
        // Sort the 8A candidates in decreasing order (insertion sort, at most 32 values).
        var count = 0
        sortedInsert(maxima.0, into: candidates, count: &count)
        if accumulators > 1 { sortedInsert(maxima.1, into: candidates, count: &count) }
        if accumulators > 2 { sortedInsert(maxima.2, into: candidates, count: &count) }
        if accumulators > 3 { sortedInsert(maxima.3, into: candidates, count: &count) }
        let c = candidates
        return c[capacity - 1]
    }

    /// Sum of the selected keys, best first (a fixed order).
    var keySum: Float {
        var s: Float = 0
        for j in 0..<capacity { s += key[j] }
        return s
    }
}

/// `true` when some lane of v may exceed `threshold`: v > threshold makes threshold − v negative,
/// so its sign bit is set. (A lane equal to the threshold can give −0 and a false positive, which
/// the caller's scalar check rejects; a larger key is never missed. Keys are finite, so a NaN
/// from −∞ − (−∞) cannot occur.) Integer ORs instead of a float compare and mask, which Swift
/// lowers lane by lane.
@inline(__always)
func mayBeat(_ v: SIMD8<Float>, _ threshold: Float) -> Bool {
    let bits = unsafeBitCast(SIMD8<Float>(repeating: threshold) - v, to: SIMD8<Int32>.self)
    let half = bits.lowHalf | bits.highHalf
    let quarter = half.lowHalf | half.highHalf
    return (quarter[0] | quarter[1]) < 0
}

/// The k-th largest lane of v (1 ≤ k ≤ 8), by a branch-free sorting network of 19
/// compare-exchanges (Knuth's optimal network for 8 inputs) instead of data-dependent branches.
@inline(__always)
func kthLargest(_ v: SIMD8<Float>, _ k: Int) -> Float {
    var x = (v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7])
    @inline(__always) func exchange(_ a: inout Float, _ b: inout Float) {
        let (high, low) = (a > b ? a : b, a > b ? b : a)
        a = high
        b = low
    }
    exchange(&x.0, &x.2); exchange(&x.1, &x.3); exchange(&x.4, &x.6); exchange(&x.5, &x.7)
    exchange(&x.0, &x.4); exchange(&x.1, &x.5); exchange(&x.2, &x.6); exchange(&x.3, &x.7)
    exchange(&x.0, &x.1); exchange(&x.2, &x.3); exchange(&x.4, &x.5); exchange(&x.6, &x.7)
    exchange(&x.2, &x.4); exchange(&x.3, &x.5)
    exchange(&x.1, &x.4); exchange(&x.3, &x.6)
    exchange(&x.1, &x.2); exchange(&x.3, &x.4); exchange(&x.5, &x.6)
    switch k {
    case 1: return x.0
    case 2: return x.1
    case 3: return x.2
    case 4: return x.3
    case 5: return x.4
    case 6: return x.5
    case 7: return x.6
    default: return x.7
    }
}

/// m = max(m, keys[0..<8]) lane-wise.
@inline(__always)
private func foldMaxima(_ keys: UnsafePointer<Float>, _ m: inout SIMD8<Float>) {
    let v = UnsafeRawPointer(keys).loadUnaligned(as: SIMD8<Float>.self)
    m = m.replacing(with: v, where: v .> m)
}

/// Inserts the 8 lanes of m into the decreasing list c[0..<count].
@inline(__always)
private func sortedInsert(_ m: SIMD8<Float>, into c: UnsafeMutablePointer<Float>, count: inout Int) {
    for lane in 0..<8 {
        let value = m[lane]
        var i = count
        while i > 0 && c[i - 1] < value {
            c[i] = c[i - 1]
            i -= 1
        }
        c[i] = value
        count += 1
    }
}
