/// Group-limited routing (DeepSeek-V3's node-limited routing, Megatron-LM's `num_groups` /
/// `group_topk`): the E′ experts form G equal groups of consecutive experts; a group scores the
/// sum of its best max(1, k/g) keys, the g best groups stay (ties: lower group index), and the
/// top k is taken over the experts of those groups only.
///
/// Scratch is owned by the caller (one per worker block) so the row loop never allocates.
struct GroupLimitedSelection {
    let groupCount: Int
    let groupSize: Int
    private var groups: TopKSelector
    private var inner: TopKSelector
    private let groupScores: UnsafeMutablePointer<Float>
    private let chosen: UnsafeMutablePointer<Int32>

    /// Scratch for `configuration`; release it with `deallocate()`.
    init(_ configuration: GatingConfiguration) {
        groupCount = configuration.groupCount
        groupSize = configuration.groupSize
        let g = configuration.groupTopK, inside = configuration.keysPerGroup
        groups = TopKSelector(capacity: g)
        inner = TopKSelector(capacity: inside)
        groupScores = .allocate(capacity: groupCount)
        chosen = .allocate(capacity: g)
    }

    func deallocate() {
        groups.deallocate()
        inner.deallocate()
        groupScores.deallocate(); chosen.deallocate()
    }

    /// Fills `selector` with the top k of `keys[0..<E′]` restricted to the best groups.
    @inline(__always)
    mutating func select(_ keys: UnsafePointer<Float>, into selector: inout TopKSelector) {
        for group in 0..<groupCount {
            inner.reset()
            inner.scan(keys, group * groupSize ..< (group + 1) * groupSize)
            groupScores[group] = inner.keySum
        }
        groups.reset()
        groups.scan(groupScores, 0..<groupCount)
        // Scan the kept groups in increasing group order so that expert indices arrive in
        // increasing order and ties still go to the lower expert index.
        let kept = groups.count
        for j in 0..<kept { chosen[j] = groups.index[j] }
        var keptGroups = UnsafeMutableBufferPointer(start: chosen, count: kept)
        keptGroups.sort()
        selector.reset()
        for j in 0..<kept {
            let group = Int(chosen[j])
            selector.scan(keys, group * groupSize ..< (group + 1) * groupSize)
        }
    }
}
