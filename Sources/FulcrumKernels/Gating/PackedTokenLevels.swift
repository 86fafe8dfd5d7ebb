import CBLASShim

/// The k best experts of 8 tokens, one token per SIMD lane, for routers of at most 256 experts:
/// each (logit, expert) pair is packed into one 32-bit integer whose order is the selection's
/// order, so that a level of the sorted insertion costs one integer maximum and one minimum
/// (`TokenLevels` carries the expert through compares and blends: 5 operations per level).
///
/// A logit becomes a signed integer of the same order (its magnitude bits, negated for a negative
/// float, so −0 and +0 are equal), whose low 8 bits are then replaced by 255 − expert: among equal
/// upper bits the lower expert wins. Logits less than 2⁸ units in the last place apart may thus
/// be misordered, so the levels keep k + 1 keys per token. Where the upper 24 bits of the k + 1
/// levels all differ, each selected logit is above the next level's, and the packed order is
/// the exact order of the top k and of the largest logit left out; the other tokens
/// (`undecidedLanes`: exact or near ties among or just below their top k) the caller selects
/// exactly.
struct PackedTokenLevels {
    typealias Keys = SIMD8<Int32>

    /// The most experts a packed key can name.
    static let maximumExperts = 256

    /// The number of levels, k + 1.
    let depth: Int
    private var l: (Keys, Keys, Keys, Keys, Keys, Keys, Keys, Keys, Keys)

    /// Empty levels `depth` (2…9) deep; pass a literal, so that the depth tests fold away.
    @inline(__always)
    init(depth: Int) {
        self.depth = depth
        let empty = Keys(repeating: .min)
        l = (empty, empty, empty, empty, empty, empty, empty, empty, empty)
    }

    /// The code of expert e in a packed key: 255 − e, larger for lower experts.
    @inline(__always)
    static func code(ofExpert e: Int) -> Keys { Keys(repeating: Int32(truncatingIfNeeded: 255 &- e)) }

    /// The packed keys of 8 logits (finite; others give some key) of the expert whose `code` is given.
    @inline(__always)
    static func packed(_ logits: SIMD8<Float>, code: Keys) -> Keys {
        // ±magnitude: the same order as the floats, and −0 equal to +0.
        let bits = unsafeBitCast(logits, to: Keys.self)
        let sign = bits &>> 31
        let ordered = ((bits & Keys(repeating: .max)) ^ sign) &- sign
        return (ordered & Keys(repeating: ~0xFF)) | code
    }

    /// Inserts one packed key per lane: each level keeps the larger of (level, key) and the
    /// smaller sinks on (the last falls off).
    @inline(__always)
    mutating func insert(_ key: Keys) {
        var v = key
        Self.sink(&l.0, &v)
        Self.sink(&l.1, &v)
        if depth > 2 { Self.sink(&l.2, &v) }
        if depth > 3 { Self.sink(&l.3, &v) }
        if depth > 4 { Self.sink(&l.4, &v) }
        if depth > 5 { Self.sink(&l.5, &v) }
        if depth > 6 { Self.sink(&l.6, &v) }
        if depth > 7 { Self.sink(&l.7, &v) }
        if depth > 8 { l.8 = fulcrum_maximum_int8(l.8, v) }
    }

    @inline(__always)
    private static func sink(_ level: inout Keys, _ v: inout Keys) {
        let high = fulcrum_maximum_int8(level, v)
        v = fulcrum_minimum_int8(level, v)
        level = high
    }

    /// The lanes (bit r for token r) where two consecutive levels have the same upper 24 bits:
    /// there the packed order may differ from the exact one. In the other lanes the experts of
    /// levels 0..<k are the exact top k, best first.
    @inline(__always)
    var undecidedLanes: UInt32 {
        var tied = Self.equalUpperBits(l.0, l.1)
        if depth > 2 { tied |= Self.equalUpperBits(l.1, l.2) }
        if depth > 3 { tied |= Self.equalUpperBits(l.2, l.3) }
        if depth > 4 { tied |= Self.equalUpperBits(l.3, l.4) }
        if depth > 5 { tied |= Self.equalUpperBits(l.4, l.5) }
        if depth > 6 { tied |= Self.equalUpperBits(l.5, l.6) }
        if depth > 7 { tied |= Self.equalUpperBits(l.6, l.7) }
        if depth > 8 { tied |= Self.equalUpperBits(l.7, l.8) }
        return fulcrum_lanes_negative_int8(tied)
    }

    /// The sign bit set in the lanes where a and b have the same upper 24 bits (x = 0 ⇔ x | −x
    /// has a clear sign bit).
    @inline(__always)
    private static func equalUpperBits(_ a: Keys, _ b: Keys) -> Keys {
        let x = (a ^ b) & Keys(repeating: ~0xFF)
        return ~(x | (0 &- x))
    }

    /// Stores the experts of levels 0..<depth − 1 (the top k), level a at `experts[8a ..< 8a + 8]`.
    @inline(__always)
    func storeExperts(_ experts: UnsafeMutablePointer<Int32>) {
        Self.put(l.0, at: 0, experts)
        if depth > 2 { Self.put(l.1, at: 1, experts) }
        if depth > 3 { Self.put(l.2, at: 2, experts) }
        if depth > 4 { Self.put(l.3, at: 3, experts) }
        if depth > 5 { Self.put(l.4, at: 4, experts) }
        if depth > 6 { Self.put(l.5, at: 5, experts) }
        if depth > 7 { Self.put(l.6, at: 6, experts) }
        if depth > 8 { Self.put(l.7, at: 7, experts) }
    }

    /// Stores the experts 255 − code of the packed `keys` at `experts[8a ..< 8a + 8]`.
    @inline(__always)
    private static func put(_ keys: Keys, at a: Int, _ experts: UnsafeMutablePointer<Int32>) {
        let expert = Keys(repeating: 255) &- (keys & Keys(repeating: 0xFF))
        UnsafeMutableRawPointer(experts + 8 &* a).storeBytes(of: expert, as: Keys.self)
    }
}
