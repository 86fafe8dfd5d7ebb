import CBLASShim

// Unaligned vector loads and stores on row pointers, with partial forms for row tails.

extension UnsafePointer where Pointee: FulcrumFloat {
    /// The vector of `Pointee.vectorWidth` elements starting at `self[j]` (any alignment).
    @inlinable @inline(__always)
    public func loadVector(at j: Int) -> Pointee.Vector {
        UnsafeRawPointer(self + j).loadUnaligned(as: Pointee.Vector.self)
    }

    /// The `count ≤ vectorWidth` elements from `self[j]`, the other lanes set to `padding`.
    @inlinable @inline(__always)
    public func loadVector(at j: Int, count: Int, padding: Pointee = 0) -> Pointee.Vector {
        if count == Pointee.vectorWidth { return loadVector(at: j) }
        var v = Pointee.Vector(repeating: padding)
        for lane in 0..<count { v[lane] = self[j + lane] }
        return v
    }

    /// Hints the CPU to start loading the cache line holding `self[j]`; no effect on results.
    @inlinable @inline(__always)
    public func prefetch(at j: Int) {
        fulcrum_prefetch(self + j)
    }
}

extension UnsafeMutablePointer where Pointee: FulcrumFloat {
    /// Stores `v` at `self[j ..< j + vectorWidth]` (any alignment).
    @inlinable @inline(__always)
    public func storeVector(_ v: Pointee.Vector, at j: Int) {
        UnsafeMutableRawPointer(self + j).storeBytes(of: v, as: Pointee.Vector.self)
    }

    /// Stores the first `count ≤ vectorWidth` lanes of `v` at `self[j ..< j + count]`.
    @inlinable @inline(__always)
    public func storeVector(_ v: Pointee.Vector, at j: Int, count: Int) {
        if count == Pointee.vectorWidth { return storeVector(v, at: j) }
        for lane in 0..<count { self[j + lane] = v[lane] }
    }
}

