import Testing
import FulcrumKernels

@Suite("adviseHugePages keeps memory as it was")
struct HugePagesTests {
    /// Contents written before the advice read back unchanged after it, for a buffer holding
    /// whole 2 MiB pages, at an offset that is not page-aligned; buffers too small or empty are
    /// accepted and left alone.
    @Test func contentsSurviveTheAdvice() {
        let count = 3 << 20  // 12 MiB of Floats: at least four whole 2 MiB pages, wherever it starts
        let memory = UnsafeMutableBufferPointer<Float>.allocate(capacity: count)
        defer { memory.deallocate() }
        for i in 0..<count { memory[i] = Float(i % 10007) }
        adviseHugePages(UnsafeMutableRawBufferPointer(rebasing: UnsafeMutableRawBufferPointer(memory)[12...]))
        #expect((0..<count).allSatisfy { memory[$0] == Float($0 % 10007) })
        // Fresh memory advised before its first touch takes writes as usual.
        let fresh = UnsafeMutableBufferPointer<Float>.allocate(capacity: count)
        defer { fresh.deallocate() }
        adviseHugePages(UnsafeMutableRawBufferPointer(fresh))
        fresh.initialize(repeating: 2)
        #expect(fresh.allSatisfy { $0 == 2 })

        let small = UnsafeMutableBufferPointer<Float>.allocate(capacity: 16)
        defer { small.deallocate() }
        small.initialize(repeating: 1)
        adviseHugePages(UnsafeMutableRawBufferPointer(small))
        adviseHugePages(UnsafeMutableRawBufferPointer(start: nil, count: 0))
        #expect(small.allSatisfy { $0 == 1 })
    }
}
