/// The k largest keys of a row, best first, with deterministic ties: keys are offered in
/// increasing index order and a key must be strictly larger than the current k-th to enter, so
/// among equal keys the lower index wins.
///
/// Storage is caller-provided scratch (k indices, k keys). Scanning skips whole vectors of 8 keys
/// none of which beats the current k-th key, so a row of E′ keys costs about E′/8 vector compares
/// plus O(k) insertions per accepted key.
struct TopKSelector {
    let capacity: Int
    let index: UnsafeMutablePointer<Int32>
    let key: UnsafeMutablePointer<Float>
    private(set) var count = 0

    init(capacity: Int, index: UnsafeMutablePointer<Int32>, key: UnsafeMutablePointer<Float>) {
        self.capacity = capacity
        self.index = index
        self.key = key
    }

    @inline(__always) mutating func reset() { count = 0 }

    /// Inserts key `value` of index `i` if it belongs to the top `capacity`.
    @inline(__always)
    mutating func offer(_ value: Float, _ i: Int) {
        var j: Int
        if count < capacity {
            j = count
            count += 1
        } else if value > key[capacity - 1] {
            j = capacity - 1
        } else {
            return
        }
        while j > 0 && key[j - 1] < value {
            key[j] = key[j - 1]
            index[j] = index[j - 1]
            j -= 1
        }
        key[j] = value
        index[j] = Int32(truncatingIfNeeded: i)
    }

    /// Offers `keys[i]` for every i in `range`, in increasing order.
    @inline(__always)
    mutating func scan(_ keys: UnsafePointer<Float>, _ range: Range<Int>) {
        var j = range.lowerBound
        let end = range.upperBound
        while j + 8 <= end {
            let v = UnsafeRawPointer(keys + j).loadUnaligned(as: SIMD8<Float>.self)
            if count < capacity || any(v .> SIMD8(repeating: key[capacity - 1])) {
                for lane in 0..<8 { offer(v[lane], j + lane) }
            }
            j += 8
        }
        while j < end {
            offer(keys[j], j)
            j += 1
        }
    }

    /// Sum of the selected keys, best first (a fixed order).
    var keySum: Float {
        var s: Float = 0
        for j in 0..<count { s += key[j] }
        return s
    }
}
