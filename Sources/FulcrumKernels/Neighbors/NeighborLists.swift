import CBLASShim

/// Bounded sorted candidate lists, one per point: the top-k selection of the kNN kernel.
///
/// List `i` holds its `width` best candidates `(distance, index)` in ascending lexicographic
/// order (distance first, then index, so that ties go to the lower index), and `worst[i]` /
/// `worstIndex[i]` mirror its last entry in separate contiguous arrays so that the selection
/// pass over a distance tile can compare sixteen candidates against one or sixteen thresholds
/// with one vector compare. Empty slots hold `(+∞, Int32.max)`. A candidate that is not better than
/// the last entry is dropped; a better one is inserted by shifting the tail (width is small): for
/// `width ≤ 8` each list occupies 8 aligned slots (`stride`) and the insertion is one vector
/// compare, shuffle and blend (`fulcrum_insert_sorted8`), with no branch on where it lands.
///
/// The top-`width` of a set under a total order does not depend on the order candidates arrive
/// in, so the lists' final contents do not depend on the tile schedule or the thread count.
///
/// A value over its own storage, released by `deallocate()`: copies share the storage and cost
/// no reference counting, which matters because every worker thread's tiles use the same lists.
@usableFromInline
struct NeighborLists: @unchecked Sendable {
    @usableFromInline let count: Int
    @usableFromInline let width: Int
    /// Slots per list: 8 when `width ≤ 8` (the vector insertion), else `width`. List `i`'s
    /// entries are at `i · stride ..< i · stride + width`.
    @usableFromInline let stride: Int
    @usableFromInline let distances: UnsafeMutablePointer<Float>
    @usableFromInline let indices: UnsafeMutablePointer<Int32>
    @usableFromInline let worst: UnsafeMutablePointer<Float>
    @usableFromInline let worstIndex: UnsafeMutablePointer<Int32>

    /// Lists for `count` points of which the first `used` are real; the lists of pad points get
    /// the threshold −∞, so that no distance ever passes their threshold test.
    init(count: Int, used: Int, width: Int) {
        self.count = count
        self.width = width
        stride = width <= 8 ? 8 : width
        distances = UnsafeMutableRawPointer.allocate(byteCount: count * stride * 4, alignment: 32).bindMemory(to: Float.self, capacity: count * stride)
        indices = UnsafeMutableRawPointer.allocate(byteCount: count * stride * 4, alignment: 32).bindMemory(to: Int32.self, capacity: count * stride)
        worst = .allocate(capacity: count)
        worstIndex = .allocate(capacity: count)
        distances.initialize(repeating: .infinity, count: count * stride)
        indices.initialize(repeating: .max, count: count * stride)
        worst.initialize(repeating: .infinity, count: used)
        (worst + used).initialize(repeating: -.infinity, count: count - used)
        worstIndex.initialize(repeating: .max, count: count)
    }

    /// Frees the storage; no copy may be used afterwards.
    func deallocate() {
        UnsafeMutableRawPointer(distances).deallocate()
        UnsafeMutableRawPointer(indices).deallocate()
        worst.deallocate()
        worstIndex.deallocate()
    }

    /// Offers candidate `(d, j)` to list `i`; keeps it when it beats the list's last entry.
    /// An infinite `d` marks a pad or the point itself and is never kept.
    @inlinable @inline(__always)
    func offer(_ i: Int, _ d: Float, _ j: Int32) {
        let w = worst[i]
        guard d < .infinity, d < w || (d == w && j < worstIndex[i]) else { return }
        let base = distances + i * stride, ids = indices + i * stride
        if stride == 8 {
            fulcrum_insert_sorted8(base, ids, d, j, Int32(truncatingIfNeeded: width))
            worst[i] = base[width - 1]
            worstIndex[i] = ids[width - 1]
            return
        }
        var p = width - 1
        while p > 0 {
            let (pd, pj) = (base[p - 1], ids[p - 1])
            if pd < d || (pd == d && pj < j) { break }
            base[p] = pd
            ids[p] = pj
            p -= 1
        }
        base[p] = d
        ids[p] = j
        worst[i] = base[width - 1]
        worstIndex[i] = ids[width - 1]
    }
}
