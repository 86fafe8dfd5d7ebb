// The scores z that one row's softmax sees, read from the caller's logits.
//
// Two readers share the row kernel: `PlainRowScores` (z = x, the fast path) and
// `AdjustedRowScores` (softcap, temperature, per-class offsets, a per-row class mask). Both apply
// the target margin to the target element alone. Excluded classes and the padding lanes of a
// row's last vector read as z = −∞, so that they contribute e^{z−m} = 0 everywhere.

@usableFromInline
protocol RowScores {
    associatedtype T: FulcrumFloat
    /// Whether e^{z−m} may be stored in the output buffer and reused by the gradient pass: true
    /// when the gradient pass needs nothing else from the logits (no softcap slope to recompute).
    static var reusesExponentials: Bool { get }
    /// z on lanes `j ..< j + count` (`count ≤ vectorWidth`), and a finiteness probe: x − x on the
    /// included lanes (0 for finite x, NaN for NaN or ±∞), 0 elsewhere.
    func scores(at j: Int, count: Int) -> (z: T.Vector, probe: T.Vector)
    /// z and dz/dx on lanes `j ..< j + count`.
    func scoresAndSlope(at j: Int, count: Int) -> (z: T.Vector, slope: T.Vector)
    /// 1 on included lanes (not excluded by the mask, not padding), 0 elsewhere.
    func inclusion(at j: Int, count: Int) -> T.Vector
    /// z, x − x and dz/dx of the target element, margin included.
    func target(_ y: Int) -> (z: T, probe: T, slope: T)
}

/// z = x; the target's z is x_y − margin_y.
@usableFromInline
struct PlainRowScores<T: FulcrumFloat>: RowScores {
    @usableFromInline let logits: UnsafePointer<T>
    @usableFromInline let margin: T

    @inlinable @inline(__always)
    init(logits: UnsafePointer<T>, margin: T) {
        self.logits = logits
        self.margin = margin
    }

    @inlinable static var reusesExponentials: Bool { true }

    @inlinable @inline(__always)
    func scores(at j: Int, count: Int) -> (z: T.Vector, probe: T.Vector) {
        if count == T.vectorWidth {
            let x = logits.loadVector(at: j)
            return (x, x - x)
        }
        let x = logits.loadVector(at: j, count: count, padding: 0)
        return (T.keepingLanes(below: count, of: x, fill: -.infinity), x - x)
    }

    @inlinable @inline(__always)
    func scoresAndSlope(at j: Int, count: Int) -> (z: T.Vector, slope: T.Vector) {
        (scores(at: j, count: count).z, T.Vector(repeating: 1))
    }

    @inlinable @inline(__always)
    func inclusion(at j: Int, count: Int) -> T.Vector {
        let one = T.Vector(repeating: 1)
        return count == T.vectorWidth ? one : T.keepingLanes(below: count, of: one, fill: 0)
    }

    @inlinable @inline(__always)
    func target(_ y: Int) -> (z: T, probe: T, slope: T) {
        let x = logits[y]
        return (x - margin, x - x, 1)
    }
}

/// z = (c·tanh(x/c) + offset_j − margin_y·[j = y]) / T, and −∞ where the row's mask excludes j.
@usableFromInline
struct AdjustedRowScores<T: FulcrumFloat>: RowScores {
    @usableFromInline let logits: UnsafePointer<T>
    @usableFromInline let margin: T
    @usableFromInline let inverseTemperature: T
    /// The softcap c, or 0 for none.
    @usableFromInline let softcap: T
    @usableFromInline let offsets: UnsafePointer<T>?
    /// This row of the exclusion mask (nonzero = excluded), or nil.
    @usableFromInline let excluded: UnsafePointer<UInt8>?

    @inlinable @inline(__always)
    init(logits: UnsafePointer<T>, margin: T, inverseTemperature: T, softcap: T,
         offsets: UnsafePointer<T>?, excluded: UnsafePointer<UInt8>?) {
        self.logits = logits
        self.margin = margin
        self.inverseTemperature = inverseTemperature
        self.softcap = softcap
        self.offsets = offsets
        self.excluded = excluded
    }

    @inlinable static var reusesExponentials: Bool { false }

    /// 1 on lanes the mask excludes and on padding lanes, 0 on included lanes.
    @inlinable @inline(__always)
    func exclusion(at j: Int, count: Int) -> T.Vector {
        var flags = T.Vector(repeating: 1)
        for lane in 0..<count { flags[lane] = excluded.map { $0[j + lane] != 0 ? 1 : 0 } ?? 0 }
        return flags
    }

    /// Capped logits and, when asked, dz/dx.
    @inlinable @inline(__always)
    func transformed(at j: Int, count: Int, slope wantSlope: Bool) -> (z: T.Vector, probe: T.Vector, slope: T.Vector) {
        let x = logits.loadVector(at: j, count: count)
        let scale = T.Vector(repeating: inverseTemperature)
        var u = x
        var slope = scale
        if softcap > 0 {
            let c = T.Vector(repeating: softcap)
            let t = T.tanh(x / c)
            u = t * c
            if wantSlope { slope = scale * (1 - t * t) }
        }
        if let offsets {
            u += offsets.loadVector(at: j, count: count)
        }
        let half = T.Vector(repeating: 0.5), out = exclusion(at: j, count: count)
        let z = T.select(where: out, isLessThan: half, u * scale, else: T.Vector(repeating: -.infinity))
        return (z, T.select(where: out, isLessThan: half, x - x, else: T.Vector()), slope)
    }

    @inlinable @inline(__always)
    func scores(at j: Int, count: Int) -> (z: T.Vector, probe: T.Vector) {
        let r = transformed(at: j, count: count, slope: false)
        return (r.z, r.probe)
    }

    @inlinable @inline(__always)
    func scoresAndSlope(at j: Int, count: Int) -> (z: T.Vector, slope: T.Vector) {
        let r = transformed(at: j, count: count, slope: true)
        return (r.z, r.slope)
    }

    @inlinable @inline(__always)
    func inclusion(at j: Int, count: Int) -> T.Vector {
        1 - exclusion(at: j, count: count)
    }

    @inlinable @inline(__always)
    func target(_ y: Int) -> (z: T, probe: T, slope: T) {
        let x = logits[y]
        var u = x
        var slope = inverseTemperature
        if softcap > 0 {
            let t = T.tanh(x / softcap)
            u = softcap * t
            slope *= 1 - t * t
        }
        u += offsets?[y] ?? 0
        return ((u - margin) * inverseTemperature, x - x, slope)
    }
}
