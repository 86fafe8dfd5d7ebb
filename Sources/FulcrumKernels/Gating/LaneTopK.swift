/// Branch-free lane-wise top lists with indices, popped in order: a tight lower bound of the k-th
/// largest key for the selector's scan when k is above `ThresholdTopK.maximumK`.
///
/// Each of the 8 SIMD lanes keeps its own sorted list of the best keys it sees (lane l sees keys
/// l, l + 8, l + 16, …, in increasing index order): a new key enters at the first level whose key
/// it beats strictly, and the levels below move down one. The overall best keys are then popped
/// one at a time: the largest lane head, the lowest index among equal heads (ties go to the lower
/// expert index), after which the winning lane's levels move up. Comparisons become
/// all-ones/all-zeros lane masks through sign bits and every select is a bitwise blend, so no
/// branch depends on the data (random router logits cost no mispredictions) and no comparison is
/// lowered lane by lane.
struct LaneTopK {
    typealias Bits = SIMD8<Int32>
    static let empty = Bits(repeating: Int32(bitPattern: Float(-Float.infinity).bitPattern))

    private let levels: Int
    private var values = (empty, empty, empty, empty)
    private var indices = (Bits(), Bits(), Bits(), Bits())

    /// Lane lists `levels` (1…4) deep over `keys[0..<count]` (finite).
    @inline(__always)
    init(_ keys: UnsafePointer<Float>, count: Int, levels: Int) {
        self.levels = levels
        var laneIndex = Bits(0, 1, 2, 3, 4, 5, 6, 7)
        var j = 0
        while j < count {
            // + 0 turns −0 into +0, so that sign-bit comparisons see equal zeros as equal.
            let loaded = j &+ 8 <= count ? keys.loadVector(at: j, as: SIMD8<Float>.self) : keys.loadVector(at: j, count: count &- j, padding: -.infinity, as: SIMD8<Float>.self)
            let v = loaded + 0
            var carry = Self.bits(v), carryIndex = laneIndex
            Self.level(v, &values.0, &indices.0, &carry, &carryIndex)
            if levels > 1 { Self.level(v, &values.1, &indices.1, &carry, &carryIndex) }
            if levels > 2 { Self.level(v, &values.2, &indices.2, &carry, &carryIndex) }
            if levels > 3 { Self.level(v, &values.3, &indices.3, &carry, &carryIndex) }
            laneIndex &+= 8
            j &+= 8
        }
    }

    /// A lower bound of the k-th largest of `keys[0..<count]` (k ≤ 16): the k-th largest of the
    /// lane-wise top two, which are 16 distinct keys (−∞ when the row has fewer).
    @inline(__always)
    static func lowerBound(_ keys: UnsafePointer<Float>, count: Int, k: Int) -> Float {
        var lists = LaneTopK(keys, count: count, levels: 2)
        var bound = -Float.infinity
        for _ in 0..<k { bound = lists.pop().key }
        return bound
    }

    /// Removes and returns the best remaining (key, index).
    @inline(__always)
    private mutating func pop() -> (key: Float, index: Int32) {
        let heads = SIMD8<Float>(bitPattern: values.0)
        let best = Float.largestLane(heads)
        // Lanes whose head is below the best get the largest index, so the minimum index
        // among the remaining lanes is the lowest-index winner.
        let below = Self.greater(SIMD8(repeating: best), heads)
        let winner = Self.horizontalMin(Self.blend(Bits(repeating: .max), indices.0, below))
        let lane = Self.equal(indices.0, Bits(repeating: winner))
        values.0 = Self.blend(values.1, values.0, lane)
        indices.0 = Self.blend(indices.1, indices.0, lane)
        if levels > 1 {
            values.1 = Self.blend(values.2, values.1, lane)
            indices.1 = Self.blend(indices.2, indices.1, lane)
        }
        if levels > 2 {
            values.2 = Self.blend(values.3, values.2, lane)
            indices.2 = Self.blend(indices.3, indices.2, lane)
        }
        values.3 = Self.blend(Self.empty, values.3, lane)
        if levels == 1 { values.1 = Self.empty }
        if levels == 2 { values.2 = Self.empty }
        return (best, winner)
    }

    /// One level of the lane-wise insertion: where the new keys v beat the level, the carried
    /// entries take the level and the level's old entries are carried down.
    @inline(__always)
    static func level(_ v: SIMD8<Float>, _ value: inout Bits, _ index: inout Bits, _ carry: inout Bits, _ carryIndex: inout Bits) {
        let enter = greater(v, SIMD8<Float>(bitPattern: value))
        let (oldValue, oldIndex) = (value, index)
        value = blend(carry, value, enter)
        index = blend(carryIndex, index, enter)
        carry = blend(oldValue, carry, enter)
        carryIndex = blend(oldIndex, carryIndex, enter)
    }

    /// All ones where a > b, for finite or −∞ a, b without −0: b − a is negative exactly there,
    /// except that −∞ − (−∞) is NaN, whose sign may be set. That case only compares padding with
    /// an empty slot (keys are finite), where "entering" moves one −∞ past another: harmless.
    @inline(__always)
    static func greater(_ a: SIMD8<Float>, _ b: SIMD8<Float>) -> Bits {
        bits(b - a) &>> 31
    }

    /// All ones where a == b.
    @inline(__always)
    static func equal(_ a: Bits, _ b: Bits) -> Bits {
        let x = a ^ b
        // x == 0 ⇔ (x | −x) has a clear sign bit.
        return ~((x | (0 &- x)) &>> 31)
    }

    /// `mask ? a : b` lane by lane, with bitwise operations.
    @inline(__always)
    static func blend(_ a: Bits, _ b: Bits, _ mask: Bits) -> Bits { (a & mask) | (b & ~mask) }

    @inline(__always)
    static func bits(_ v: SIMD8<Float>) -> Bits { unsafeBitCast(v, to: Bits.self) }

    /// The smallest lane of v.
    @inline(__always)
    static func horizontalMin(_ v: Bits) -> Int32 {
        let h = v.lowHalf.replacing(with: v.highHalf, where: v.highHalf .< v.lowHalf)
        let q = h.lowHalf.replacing(with: h.highHalf, where: h.highHalf .< h.lowHalf)
        return q[1] < q[0] ? q[1] : q[0]
    }
}

extension SIMD8 where Scalar == Float {
    /// The Floats whose bit patterns are the lanes of `bits`.
    @inline(__always)
    init(bitPattern bits: SIMD8<Int32>) { self = unsafeBitCast(bits, to: SIMD8<Float>.self) }
}
