import CBLASShim

/// The k best (logit, expert) pairs of 8 tokens, one token per SIMD lane, sorted in k ≤ 8 levels
/// held in registers: level 0 holds each token's largest logit, level k − 1 its k-th.
///
/// Experts are inserted in increasing index order and a newcomer goes below every equal logit, so
/// among equal logits the lower expert index stays in front: the tie rule of every top-k in the
/// gating kernel. An insertion costs a compare, two blends, a minimum and a maximum per level,
/// all levels compared with the newcomer independently (no chain through the levels).
struct TokenLevels {
    typealias Keys = SIMD8<Float>
    typealias Indices = SIMD8<Int32>

    /// The number of levels, k.
    let depth: Int
    private var key: (Keys, Keys, Keys, Keys, Keys, Keys, Keys, Keys)
    private var index: (Indices, Indices, Indices, Indices, Indices, Indices, Indices, Indices)

    /// Runs `body` on empty levels `depth` (1…8) deep, the depth a constant in each inlined copy
    /// (see `withConstantDepth`).
    @inline(__always)
    static func withEmpty<Result>(depth: Int, _ body: (inout TokenLevels) -> Result) -> Result {
        withConstantDepth(depth) { depth in
            var levels = TokenLevels(depth: depth)
            return body(&levels)
        }
    }

    @inline(__always)
    private init(depth: Int) {
        self.depth = depth
        let empty = Keys(repeating: -.infinity), none = Indices(repeating: -1)
        key = (empty, empty, empty, empty, empty, empty, empty, empty)
        index = (none, none, none, none, none, none, none, none)
    }

    /// Inserts the logits of the 8 tokens for one expert (`expert`: its index in every lane): in
    /// each lane, the levels below the first one the newcomer strictly beats move down one place
    /// (the last falls off) and the newcomer takes its place. Existing pairs never pass one
    /// another, so equal logits keep their order.
    @inline(__always)
    mutating func insert(_ logits: Keys, expert e: Indices) {
        let v = logits
        // Level j (≥ 1) becomes level j − 1 where the newcomer beats both, the newcomer where it
        // beats level j only, and stays where it beats neither. Deepest first: each step reads
        // the level above before that level changes.
        @inline(__always) func shift(_ upperKey: Keys, _ upperIndex: Indices, _ key: inout Keys, _ index: inout Indices) {
            index = fulcrum_select_less_int8(key, v, fulcrum_select_less_int8(upperKey, v, upperIndex, e), index)
            key = Float.maximum(key, Float.select(where: upperKey, isLessThan: v, upperKey, else: v))
        }
        if depth > 7 { shift(key.6, index.6, &key.7, &index.7) }
        if depth > 6 { shift(key.5, index.5, &key.6, &index.6) }
        if depth > 5 { shift(key.4, index.4, &key.5, &index.5) }
        if depth > 4 { shift(key.3, index.3, &key.4, &index.4) }
        if depth > 3 { shift(key.2, index.2, &key.3, &index.3) }
        if depth > 2 { shift(key.1, index.1, &key.2, &index.2) }
        if depth > 1 { shift(key.0, index.0, &key.1, &index.1) }
        index.0 = fulcrum_select_less_int8(key.0, v, e, index.0)
        key.0 = Float.maximum(key.0, v)
    }

    /// Stores level a's keys at `keys[8a ..< 8a + 8]` and its experts at `experts[8a ..< 8a + 8]`,
    /// for a < depth.
    @inline(__always)
    func store(keys: UnsafeMutablePointer<Float>, experts: UnsafeMutablePointer<Int32>) {
        @inline(__always) func put(_ a: Int, _ k: Keys, _ i: Indices) {
            keys.storeVector(k, at: 8 &* a)
            UnsafeMutableRawPointer(experts + 8 &* a).storeBytes(of: i, as: Indices.self)
        }
        put(0, key.0, index.0)
        if depth > 1 { put(1, key.1, index.1) }
        if depth > 2 { put(2, key.2, index.2) }
        if depth > 3 { put(3, key.3, index.3) }
        if depth > 4 { put(4, key.4, index.4) }
        if depth > 5 { put(5, key.5, index.5) }
        if depth > 6 { put(6, key.6, index.6) }
        if depth > 7 { put(7, key.7, index.7) }
    }
}

/// Calls `body` with `depth` (1…8; larger values run as 8) as a literal in each inlined copy, so
/// that the depth tests of sorted levels kept in registers fold away and the levels are not
/// spilled around untaken branches.
@inline(__always)
func withConstantDepth<Result>(_ depth: Int, _ body: (Int) -> Result) -> Result {
    switch depth {
    case 1: return body(1)
    case 2: return body(2)
    case 3: return body(3)
    case 4: return body(4)
    case 5: return body(5)
    case 6: return body(6)
    case 7: return body(7)
    default: return body(8)
    }
}
