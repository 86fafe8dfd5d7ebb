extension Gating {
    /// Marks the assignments over capacity C of every real expert as dropped (`~e`, weight 0) and
    /// returns how many were dropped. Null experts are never limited.
    ///
    /// - `.position`: an expert keeps its first C assignments in token order. Each block starts
    ///   from the counts of the blocks before it, so blocks run in parallel and agree with a
    ///   sequential scan.
    /// - `.probability`: an expert keeps its C assignments of largest weight, ties to the lower
    ///   token index; only experts over capacity are sorted.
    static func dropOverCapacity(
        _ outputs: GatingOutputs, configuration: GatingConfiguration, capacity: Int, plan: GatingBlockPlan
    ) -> Int {
        let real = configuration.expertCount
        var totals = [Int64](repeating: 0, count: real)
        for s in 0..<outputs.expertCounts.rows {
            for e in 0..<real { totals[e] += outputs.expertCounts[s, e] }
        }
        let over = totals.map { $0 > Int64(capacity) }
        guard over.contains(true) else { return 0 }
        switch configuration.dropPolicy {
        case .position:
            return dropByPosition(outputs, configuration: configuration, capacity: capacity, plan: plan, over: over)
        case .probability:
            return dropByProbability(outputs, configuration: configuration, capacity: capacity, totals: totals, over: over)
        }
    }

    @inline(__always)
    private static func markDropped(_ outputs: GatingOutputs, _ t: Int, _ a: Int) {
        outputs.indices[t, a] = ~outputs.indices[t, a]
        outputs.weights[t, a] = 0
    }

    private static func dropByPosition(
        _ outputs: GatingOutputs, configuration: GatingConfiguration, capacity: Int, plan: GatingBlockPlan, over: [Bool]
    ) -> Int {
        let (real, k, blocks) = (configuration.expertCount, configuration.topK, plan.blocks)
        // start[b·E′ + e]: assignments to e in the blocks before b.
        let experts = plan.experts
        let start = UnsafeMutablePointer<Int64>.allocate(capacity: (blocks + 1) * experts)
        let droppedPerBlock = UnsafeMutablePointer<Int>.allocate(capacity: blocks)
        defer { start.deallocate(); droppedPerBlock.deallocate() }
        start.initialize(repeating: 0, count: experts)
        for b in 0..<blocks {
            plan.blockCounts(b, into: start + (b + 1) * experts)
            for e in 0..<experts { start[(b + 1) * experts + e] += start[b * experts + e] }
        }
        Threads.forEachBlock(count: outputs.indices.rows, blockSize: blockRows) { block, range in
            let running = start + block * experts
            var dropped = 0
            for t in range {
                for a in 0..<k {
                    let e = Int(outputs.indices[t, a])
                    guard e < real, over[e] else { continue }
                    if running[e] >= Int64(capacity) {
                        markDropped(outputs, t, a)
                        dropped += 1
                    }
                    running[e] += 1
                }
            }
            droppedPerBlock[block] = dropped
        }
        return (0..<blocks).reduce(0) { $0 + droppedPerBlock[$1] }
    }

    private static func dropByProbability(
        _ outputs: GatingOutputs, configuration: GatingConfiguration, capacity: Int, totals: [Int64], over: [Bool]
    ) -> Int {
        let (real, k) = (configuration.expertCount, configuration.topK)
        // Bucket the assignments (slot = t·k + a) of each overflowing expert, in token order.
        let overflowing = (0..<real).filter { over[$0] }
        var bucketStart = [Int](repeating: 0, count: real + 1)
        for e in 0..<real { bucketStart[e + 1] = bucketStart[e] + (over[e] ? Int(totals[e]) : 0) }
        var fill = bucketStart
        let slots = UnsafeMutablePointer<Int>.allocate(capacity: max(1, bucketStart[real]))
        defer { slots.deallocate() }
        for t in 0..<outputs.indices.rows {
            for a in 0..<k {
                let e = Int(outputs.indices[t, a])
                if e < real && over[e] {
                    slots[fill[e]] = t * k + a
                    fill[e] += 1
                }
            }
        }
        Threads.forEachBlock(count: overflowing.count, blockSize: 1) { _, range in
            for e in overflowing[range] {
                var bucket = UnsafeMutableBufferPointer(start: slots + bucketStart[e], count: Int(totals[e]))
                bucket.sort { x, y in
                    let (wx, wy) = (outputs.weights[x / k, x % k], outputs.weights[y / k, y % k])
                    return wx > wy || (wx == wy && x < y)
                }
                for slot in bucket[capacity...] { markDropped(outputs, slot / k, slot % k) }
            }
        }
        return overflowing.reduce(0) { $0 + Int(totals[$1]) - capacity }
    }
}
