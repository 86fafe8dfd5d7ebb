extension FulcrumFloat {
    /// log Σ_j e^{x_j} of `count` values, stable for any magnitudes.
    ///
    /// Two passes: the maximum m, then Σ e^{x_j − m} with the vector `exp`, accumulated per
    /// 512-element chunk and combined in Double; the result is m + log(sum). −∞ for an empty row or
    /// a row of −∞; NaN if any value is NaN; +∞ if any value is +∞ (and none is NaN).
    /// Cost: 2 reads of the row, one vector exp per element.
    @inlinable
    public static func logSumExp(_ x: UnsafePointer<Self>, count: Int) -> Self {
        var high = Vector(repeating: -.infinity), probe = Vector()
        forEachVector(Self.self, from: 0, to: count) { j, n in
            let v = keepingLanes(below: n, of: x.loadVector(at: j, count: n), fill: -.infinity)
            high = maximum(v, high)
            probe += keepingLanes(below: n, of: v - v, fill: 0)
        }
        let m = largestLane(high)
        let bad = sumOfLanes(probe)
        if bad.isNaN {
            // NaN from x − x is a NaN or an infinity: NaN wins, then +∞.
            for j in 0..<count where x[j].isNaN { return x[j] }
            if m == .infinity { return .infinity }
        }
        guard m > -.infinity else { return -.infinity }
        let shift = Vector(repeating: m)
        let sum = chunkedSum(Self.self, from: 0, to: count) { j, n in
            exp(keepingLanes(below: n, of: x.loadVector(at: j, count: n) - shift, fill: -.infinity))
        }
        return m + Self(Double.log(sum))
    }
}
