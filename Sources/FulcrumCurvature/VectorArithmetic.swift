import FulcrumKernels

/// The few dense vector operations the Krylov and stochastic estimators need, on parameter-sized
/// vectors (hundreds of thousands of elements).
///
/// Reductions are deterministic for any thread count: the vector is cut into fixed blocks of
/// `blockSize` elements, each block is accumulated in SIMD registers of the element type, its sum
/// is widened to Double into its own slot, and slots are added in block order.
@usableFromInline
enum VectorArithmetic {
    @usableFromInline static let blockSize = 16_384

    /// Σᵢ aᵢ·bᵢ, accumulated as described above.
    @inlinable
    static func dot<T: FulcrumFloat>(_ a: UnsafePointer<T>, _ b: UnsafePointer<T>, count: Int) -> Double {
        let blocks = (count + blockSize - 1) / blockSize
        if blocks <= 1 { return blockDot(a, b, 0..<count) }
        var partial = [Double](repeating: 0, count: blocks)
        partial.withUnsafeMutableBufferPointer { slots in
            let out = SendablePointer(slots.baseAddress!)
            let (pa, pb) = (SendablePointer(UnsafeMutablePointer(mutating: a)), SendablePointer(UnsafeMutablePointer(mutating: b)))
            Threads.forEachBlock(count: count, blockSize: blockSize) { block, range in
                out.pointer[block] = blockDot(UnsafePointer(pa.pointer), UnsafePointer(pb.pointer), range)
            }
        }
        return partial.reduce(0, +)
    }

    /// Σᵢ aᵢ² (see `dot`).
    @inlinable
    static func squaredNorm<T: FulcrumFloat>(_ a: UnsafePointer<T>, count: Int) -> Double { dot(a, a, count: count) }

    /// Σᵢ aᵢ² of a finite vector, or `invalidParameter` naming `argument` (and `row` when given)
    /// when it overflowed: accumulated in T, it does once elements pass about
    /// √T.greatestFiniteMagnitude (1.8e19 for Float), and dividing by +∞ would silently zero a
    /// normalised vector or a ratio.
    @inlinable
    static func squaredNorm<T: FulcrumFloat>(_ a: UnsafePointer<T>, count: Int, argument: String, row: Int? = nil) throws -> Double {
        let result = squaredNorm(a, count: count)
        guard result.isFinite else {
            throw FulcrumError.invalidParameter(
                argument: argument, value: row.map { "row \($0)" } ?? "a vector",
                requirement: "elements small enough that its squared norm fits in \(T.self)")
        }
        return result
    }

    @inlinable
    static func blockDot<T: FulcrumFloat>(_ a: UnsafePointer<T>, _ b: UnsafePointer<T>, _ range: Range<Int>) -> Double {
        let w = T.Vector.scalarCount
        var (s0, s1) = (T.Vector(), T.Vector())
        var j = range.lowerBound
        while j + 2 * w <= range.upperBound {
            s0 = T.multiplyAdd(load(a, j), load(b, j), s0)
            s1 = T.multiplyAdd(load(a, j + w), load(b, j + w), s1)
            j += 2 * w
        }
        var total = Double(T.sumOfLanes(s0 + s1))
        while j < range.upperBound {
            total += Double(a[j]) * Double(b[j])
            j += 1
        }
        return total
    }

    /// ‖w − λ·v‖², accumulated like `dot` (directly, without the cancellation of ‖w‖² − λ²).
    @inlinable
    static func residualSquared<T: FulcrumFloat>(_ w: UnsafePointer<T>, _ v: UnsafePointer<T>, _ lambda: Double, count: Int) -> Double {
        let blocks = (count + blockSize - 1) / blockSize
        var partial = [Double](repeating: 0, count: blocks)
        partial.withUnsafeMutableBufferPointer { slots in
            let out = SendablePointer(slots.baseAddress!)
            let (pw, pv) = (SendablePointer(UnsafeMutablePointer(mutating: w)), SendablePointer(UnsafeMutablePointer(mutating: v)))
            Threads.forEachBlock(count: count, blockSize: blockSize) { block, range in
                var total = 0.0
                for j in range {
                    let d = Double(pw.pointer[j]) - lambda * Double(pv.pointer[j])
                    total += d * d
                }
                out.pointer[block] = total
            }
        }
        return partial.reduce(0, +)
    }

    /// Classical Gram–Schmidt against the first `count` rows of `basis`: c_i = q_i·w for all i in
    /// one pass over memory, then w ← w − Σ_i c_i·q_i in a second; returns the c_i. The dots are
    /// accumulated per fixed block and added in block order (deterministic for any thread count).
    @inlinable
    @discardableResult
    static func subtractProjections<T: FulcrumFloat>(
        _ w: UnsafeMutablePointer<T>, onto basis: MatrixView<T>, count: Int, length: Int
    ) -> [Double] {
        guard count > 0 else { return [] }
        let blocks = (length + blockSize - 1) / blockSize
        var partial = [Double](repeating: 0, count: blocks * count)
        let pw = SendablePointer(w)
        partial.withUnsafeMutableBufferPointer { slots in
            let out = SendablePointer(slots.baseAddress!)
            Threads.forEachBlock(count: length, blockSize: blockSize) { block, range in
                for i in 0..<count {
                    out.pointer[block * count + i] = blockDot(basis.row(i), UnsafePointer(pw.pointer), range)
                }
            }
        }
        var c = [Double](repeating: 0, count: count)
        for b in 0..<blocks { for i in 0..<count { c[i] += partial[b * count + i] } }
        let coefficients = c.map { T($0) }
        Threads.forEachBlock(count: length, blockSize: blockSize) { _, range in
            let y = pw.pointer
            let width = T.Vector.scalarCount
            var j = range.lowerBound
            while j + width <= range.upperBound {
                var v = load(y, j)
                for i in 0..<count { v = T.multiplyAdd(T.Vector(repeating: -coefficients[i]), load(basis.row(i), j), v) }
                store(v, y, j)
                j += width
            }
            while j < range.upperBound {
                for i in 0..<count { y[j] -= coefficients[i] * basis.row(i)[j] }
                j += 1
            }
        }
        return c
    }

    /// y ← y + α·x.
    @inlinable
    static func addScaled<T: FulcrumFloat>(_ alpha: T, _ x: UnsafePointer<T>, to y: UnsafeMutablePointer<T>, count: Int) {
        let (px, py) = (SendablePointer(UnsafeMutablePointer(mutating: x)), SendablePointer(y))
        Threads.forEachBlock(count: count, blockSize: 4 * blockSize) { _, range in
            let (x, y) = (UnsafePointer(px.pointer), py.pointer)
            let w = T.Vector.scalarCount
            let a = T.Vector(repeating: alpha)
            var j = range.lowerBound
            while j + w <= range.upperBound {
                store(T.multiplyAdd(a, load(x, j), load(y, j)), y, j)
                j += w
            }
            while j < range.upperBound {
                y[j] += alpha * x[j]
                j += 1
            }
        }
    }

    /// x ← α·x.
    @inlinable
    static func scale<T: FulcrumFloat>(_ x: UnsafeMutablePointer<T>, by alpha: T, count: Int) {
        for j in 0..<count { x[j] *= alpha }
    }

    /// Index of the first non-finite element, or nil.
    @inlinable
    static func firstNonFinite<T: FulcrumFloat>(_ x: UnsafePointer<T>, count: Int) -> Int? {
        for j in 0..<count where !x[j].isFinite { return j }
        return nil
    }

    @inlinable @inline(__always)
    static func load<T: FulcrumFloat>(_ p: UnsafePointer<T>, _ j: Int) -> T.Vector {
        UnsafeRawPointer(p + j).loadUnaligned(as: T.Vector.self)
    }

    @inlinable @inline(__always)
    static func load<T: FulcrumFloat>(_ p: UnsafeMutablePointer<T>, _ j: Int) -> T.Vector {
        UnsafeRawPointer(p + j).loadUnaligned(as: T.Vector.self)
    }

    @inlinable @inline(__always)
    static func store<T: FulcrumFloat>(_ v: T.Vector, _ p: UnsafeMutablePointer<T>, _ j: Int) {
        UnsafeMutableRawPointer(p + j).storeBytes(of: v, as: T.Vector.self)
    }
}

/// A pointer handed to worker closures that write disjoint parts of its memory.
@usableFromInline
struct SendablePointer<T>: @unchecked Sendable {
    @usableFromInline let pointer: UnsafeMutablePointer<T>
    @inlinable init(_ pointer: UnsafeMutablePointer<T>) { self.pointer = pointer }
}
