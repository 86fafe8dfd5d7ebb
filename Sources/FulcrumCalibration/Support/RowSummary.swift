/// Sum, minimum, maximum and first arg-max of a Float row, eight lanes at a time.
///
/// NaN never wins the min/max comparisons, but it makes `sum` NaN (and ±∞ makes it non-finite),
/// so `sum.isFinite` is the finiteness check of the whole row.
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
        var j = 0
        while j + 8 <= count {
            let v = UnsafeRawPointer(row + j).loadUnaligned(as: SIMD8<Float>.self)
            s += v
            lo = lo.replacing(with: v, where: v .< lo)
            hi = hi.replacing(with: v, where: hi .< v)
            j += 8
        }
        var (sum, minimum, maximum) = (s.sum(), lo.min(), hi.max())
        while j < count {
            let v = row[j]
            sum += v
            if v < minimum { minimum = v }
            if maximum < v { maximum = v }
            j += 1
        }
        var index = 0
        while index < count && row[index] != maximum { index += 1 }
        (self.sum, self.minimum, self.maximum, self.argmax) = (sum, minimum, maximum, min(index, max(0, count - 1)))
    }
}
