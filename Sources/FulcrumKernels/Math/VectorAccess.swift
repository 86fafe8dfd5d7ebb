// Unaligned vector loads and stores on row pointers, with partial forms for row tails, and
// cache prefetch hints.

import CBLASShim

extension UnsafePointer {
    /// Hints that `self[j]` will be read soon (a cache prefetch; never faults, any `j` is allowed).
    @inlinable @inline(__always)
    public func prefetch(at j: Int) {
        fulcrum_prefetch_read(UnsafeRawPointer(bitPattern: Int(bitPattern: self) &+ j &* MemoryLayout<Pointee>.stride))
    }

    /// Hints that `self[0 ..< count]` will be read soon: one prefetch per 64-byte line it
    /// touches (`count ≥ 1`).
    @inlinable @inline(__always)
    public func prefetch(first count: Int) {
        let perLine = max(1, 64 / MemoryLayout<Pointee>.stride)
        var j = 0
        while j < count {
            prefetch(at: j)
            j += perLine
        }
        prefetch(at: count - 1)
    }
}

extension UnsafePointer where Pointee: FulcrumFloat {
    /// The vector of `Pointee.vectorWidth` elements starting at `self[j]` (any alignment).
    @inlinable @inline(__always)
    public func loadVector(at j: Int) -> Pointee.Vector { loadVector(at: j, as: Pointee.Vector.self) }

    /// The vector of `V.scalarCount` elements starting at `self[j]` (any alignment): the 8-lane
    /// tiles of the gating and nearest-neighbour kernels.
    @inlinable @inline(__always)
    public func loadVector<V: SIMD>(at j: Int, as _: V.Type = V.self) -> V where V.Scalar == Pointee {
        UnsafeRawPointer(self + j).loadUnaligned(as: V.self)
    }

    /// The `count ≤ vectorWidth` elements from `self[j]`, the other lanes set to `padding` (a
    /// partial tail is one masked load on AVX-512: `LaneVector.init(first:from:padding:)`).
    @inlinable @inline(__always)
    public func loadVector(at j: Int, count: Int, padding: Pointee = 0) -> Pointee.Vector {
        if count == Pointee.vectorWidth { return loadVector(at: j) }
        return Pointee.Vector(first: count, from: self + j, padding: Pointee.Vector(repeating: padding))
    }

    /// The `count ≤ V.scalarCount` elements from `self[j]`, the other lanes set to `padding`.
    @inlinable @inline(__always)
    public func loadVector<V: SIMD>(at j: Int, count: Int, padding: Pointee = 0, as _: V.Type = V.self) -> V
    where V.Scalar == Pointee {
        if count == V.scalarCount { return loadVector(at: j) }
        var v = V(repeating: padding)
        for lane in 0..<count { v[lane] = self[j + lane] }
        return v
    }
}

extension UnsafeMutablePointer where Pointee: FulcrumFloat {
    /// Stores `v` at `self[j ..< j + v.scalarCount]` (any alignment).
    @inlinable @inline(__always)
    public func storeVector<V: SIMD>(_ v: V, at j: Int) where V.Scalar == Pointee {
        UnsafeMutableRawPointer(self + j).storeBytes(of: v, as: V.self)
    }

    /// Hints that `self[j]` will be written soon (a cache prefetch for ownership; never faults,
    /// any `j` is allowed).
    @inlinable @inline(__always)
    public func prefetchForWriting(at j: Int) {
        fulcrum_prefetch_write(UnsafeRawPointer(bitPattern: Int(bitPattern: self) &+ j &* MemoryLayout<Pointee>.stride))
    }

    /// Stores the first `count ≤ v.scalarCount` lanes of `v` at `self[j ..< j + count]`.
    @inlinable @inline(__always)
    public func storeVector<V: SIMD>(_ v: V, at j: Int, count: Int) where V.Scalar == Pointee {
        if count == V.scalarCount { return storeVector(v, at: j) }
        for lane in 0..<count { self[j + lane] = v[lane] }
    }

    /// Stores the first `count ≤ v.scalarCount` lanes of `v` at `self[j ..< j + count]` (a
    /// partial tail is one masked store on AVX-512: `LaneVector.storeFirst(_:to:)`).
    @inlinable @inline(__always)
    public func storeVector<V: LaneVector>(_ v: V, at j: Int, count: Int) where V.Scalar == Pointee {
        if count == V.scalarCount { return storeVector(v, at: j) }
        v.storeFirst(count, to: self + j)
    }
}
