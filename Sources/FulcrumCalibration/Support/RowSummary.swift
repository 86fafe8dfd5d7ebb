/// Sum, minimum, maximum and first arg-max of a Float row in one pass, eight lanes at a time.
///
/// Each lane keeps its largest value and the first index where it occurred (strict `>`), so the
/// row's first arg-max is the smallest index among the lanes holding the maximum. NaN never wins
/// a comparison, but it makes `sum` NaN (and ±∞ makes it non-finite), so `sum.isFinite` is the
/// finiteness check of the whole row.
struct RowSummary {
    var sum: Float
    var minimum: Float
    var maximum: Float
    var argmax: Int

    @inline(__always)
    init(_ row: UnsafePointer<Float>, count: Int) {
        var s = SIMD8<Float>(repeating: 0)
        var lo = SIMD8<Float>(repeating: .infinity)
        var hi = SIMD8<Float>(repeating: -.infinity)
        var at = SIMD8<Int32>(repeating: Int32.max)
        var index = SIMD8<Int32>(0, 1, 2, 3, 4, 5, 6, 7)
        var j = 0
        while j + 8 <= count {
            let v = UnsafeRawPointer(row + j).loadUnaligned(as: SIMD8<Float>.self)
            s += v
            lo = lo.replacing(with: v, where: v .< lo)
            let greater = hi .< v
            hi = hi.replacing(with: v, where: greater)
            at = at.replacing(with: index, where: greater)
            index &+= 8
            j += 8
        }
        var (sum, minimum, maximum) = (Float.sumOfLanes(s), lo.min(), hi.max())
        var argmax = Int.max
        for lane in 0..<8 where hi[lane] == maximum { argmax = min(argmax, Int(at[lane])) }
        while j < count {
            let v = row[j]
            sum += v
            if v < minimum { minimum = v }
            if maximum < v { (maximum, argmax) = (v, j) }
            j += 1
        }
        if argmax == Int.max { argmax = 0 }  // every value NaN or −∞: the row fails validation anyway
        (self.sum, self.minimum, self.maximum, self.argmax) = (sum, minimum, maximum, argmax)
    }
}
