#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Testing
import FulcrumKernels

@Suite("Partial vector loads and stores (a row's tail)")
struct PartialVectorAccessTests {
    /// For every count 0…width: the loaded lanes below it are the row's, the rest the padding;
    /// a store writes exactly the first `count` elements.
    func checkLanes<V: LaneVector>(_: V.Type) where V.Scalar: FulcrumFloat {
        let width = V.scalarCount
        let source = (0..<(2 * width)).map { V.Scalar($0) + 0.25 }
        for count in 0...width {
            let loaded = source.withUnsafeBufferPointer { V(first: count, from: $0.baseAddress! + 3, padding: V(repeating: -7)) }
            for lane in 0..<width {
                #expect(loaded[lane] == (lane < count ? source[3 + lane] : -7), "\(V.self) count \(count) lane \(lane)")
            }
            var target = [V.Scalar](repeating: 9, count: 2 * width)
            target.withUnsafeMutableBufferPointer { V(repeating: 1.5).storeFirst(count, to: $0.baseAddress! + 2) }
            for i in target.indices {
                #expect(target[i] == ((2..<(2 + count)).contains(i) ? 1.5 : 9), "\(V.self) count \(count) element \(i)")
            }
        }
    }

    @Test("Float.Vector, SIMD8<Float> and Double.Vector") func lanes() {
        checkLanes(Float.Vector.self)
        checkLanes(SIMD8<Float>.self)
        checkLanes(Double.Vector.self)
    }

    /// A tail that ends where readable memory ends (the next page is inaccessible) loads and
    /// stores without touching that page: a masked access must not fault on the masked-off lanes.
    @Test("A tail at the end of a mapping") func tailAtTheEndOfAMapping() throws {
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let memory = try #require(mmap(nil, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0))
        try #require(memory != MAP_FAILED)
        defer { munmap(memory, 2 * page) }
        try #require(mprotect(memory + page, page, PROT_NONE) == 0)
        let floats = memory.bindMemory(to: Float.self, capacity: page / 4)
        let count = page / 4
        for i in 0..<count { floats[i] = Float(i) }
        for tail in 1..<Float.vectorWidth {
            let start = count - tail
            let v = UnsafePointer(floats).loadVector(at: start, count: tail, padding: -1)
            #expect((0..<Float.vectorWidth).allSatisfy { v[$0] == ($0 < tail ? Float(start + $0) : -1) }, "tail \(tail)")
            floats.storeVector(v + 1, at: start, count: tail)
            #expect((0..<tail).allSatisfy { floats[start + $0] == Float(start + $0) + 1 }, "tail \(tail)")
            for i in start..<count { floats[i] = Float(i) }
        }
    }
}
